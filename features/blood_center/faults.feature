# language: zh-CN
@fault
功能: 故障
  网络或血液中心出错时，连接器只重发幂等的操作（查询、按单号幂等的预约和退血、取消）；
  入库确认不幂等（一袋血只入库一次），应答丢失时报告而不重发。

  背景:
    假如 医院提交了预约单 "ORD0801"：
      | 行 | 产品  | ABO | RhD | 数量 | 单位 |
      | 1  | E0001 | A   | POS | 2    | U    |

  场景大纲: 查询预约反馈遇到 <故障> 后重试成功
    假如 血液中心对 "QueryOrderFeedback" 注入故障 "<故障>"
    当 查询预约单 "ORD0801" 的反馈
    那么 预约反馈状态为 "RECEIVED"
    而且 血液中心收到 <笔数> 笔 "QueryOrderFeedback"
    而且 血液中心对最后一笔 "QueryOrderFeedback" 的应答为成功

    例子:
      | 故障        | 笔数 |
      | latency     | 1    |
      | no_reply    | 2    |
      | reset       | 2    |
      | http_status | 2    |
      | error_reply | 2    |
      | malformed   | 2    |

  场景: 预约应答丢失后重发，血液中心只记一张预约单
    假如 血液中心对 "SubmitBloodOrder" 注入故障 "reset"（处理后）
    当 再次提交预约单 "ORD0801"
    那么 两次提交得到相同的应答
    而且 血液中心收到 3 笔 "SubmitBloodOrder"
    而且 血液中心共有 1 张预约单

  场景: 入库确认应答丢失时不重发
    假如 预约单 "ORD0801" 已发血，医院下载了发血单
    而且 血液中心对 "ConfirmReceipt" 注入故障 "reset"（处理后）
    当 扫描发血单上的全部血袋入库
    那么 连接器报告错误 "Unavailable"
    而且 错误信息包含 "not resent"
    而且 血液中心收到 1 笔 "ConfirmReceipt"

  场景: 血液中心持续故障时下载发血单报告不可用
    假如 血液中心对 "DownloadIssuedUnits" 注入故障 "error_reply"，连续 3 次
    当 下载预约单 "ORD0801" 的发血单
    那么 连接器报告错误 "Unavailable"
    而且 错误信息包含 "after 3 attempts"
    而且 血液中心收到 3 笔 "DownloadIssuedUnits"

  @no_answer
  场景: 血液中心一直不应答时，连接器按约定重发后报告不可用，不无限等待
    假如 血液中心对 "QueryOrderFeedback" 注入故障 "no_reply"，连续 5 次
    当 查询预约单 "ORD0801" 的反馈
    那么 连接器报告错误 "Unavailable"
    而且 连接器在 3 倍超时时间内放弃
    而且 血液中心收到 3 笔 "QueryOrderFeedback"

  @refused
  场景: 血液中心拒绝连接时，查询按约定重发后报告不可用，不无限等待；恢复后查询成功
    假如 血液中心的端口拒绝连接
    当 查询预约单 "ORD0801" 的反馈
    那么 连接器报告错误 "Unavailable"
    而且 错误信息包含 "after 3 attempts"
    而且 连接器在 1 倍超时时间内放弃
    当 血液中心恢复接受连接
    而且 查询预约单 "ORD0801" 的反馈
    那么 预约反馈状态为 "RECEIVED"

  @refused
  场景: 血液中心拒绝连接时入库确认报告不可用，血袋不进库存；恢复后再扫描入库，血液中心只记一次
    假如 预约单 "ORD0801" 已发血，医院下载了发血单
    而且 血液中心的端口拒绝连接
    当 扫描发血单上的全部血袋入库
    那么 连接器报告错误 "Unavailable"
    而且 连接器在 1 倍超时时间内放弃
    而且 医院库存中没有第 1 袋
    当 血液中心恢复接受连接
    而且 扫描发血单上的全部血袋入库
    那么 入库确认成功，血液中心接收了 1 袋
    而且 血液中心收到 1 笔 "ConfirmReceipt"
    而且 医院库存中每袋入库血的安全信息与血液中心发出的一致
