# language: zh-CN
@clock
功能: 消息时间与 PACS 时钟
  PACS 以自己的时钟核对医院发来的每条消息和每个确认的 MSH-7（合同规则 clock_skew，允许相差 300 秒）。

  背景:
    假如 患者 "张三"，病历号 "MRN0001"

  @allow_invalid:clock_skew
  场景: PACS 的时钟比医院慢 1 小时时，PACS 发现检查申请的消息时间不符
    假如 PACS 的时钟比医院慢 1 小时
    当 医院开立检查申请 "R0001"
    那么 连接器收到确认 "AA"
    而且 PACS 发现报文时间与其时钟不符
