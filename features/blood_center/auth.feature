# language: zh-CN
@auth @allow_invalid:auth
功能: 身份认证
  每个请求的 SOAP Header 带医院编码和令牌；编码未登记或令牌错误时血液中心以 SOAP Fault Client.Auth 拒绝，
  什么也不做。连接器报告认证失败，不重试。

  场景: 令牌错误时预约被拒绝，不重试
    假如 血液中心更换了本院的令牌
    当 提交预约单 "ORD0701"：
      | 行 | 产品  | ABO | RhD | 数量 | 单位 |
      | 1  | E0001 | A   | POS | 1    | U    |
    那么 连接器报告错误 "AuthRefused"
    而且 血液中心以 "Client.Auth" 故障拒绝了最后一笔 "SubmitBloodOrder"
    而且 血液中心收到 1 笔 "SubmitBloodOrder"
    而且 血液中心共有 0 张预约单

  场景: 医院编码未登记时查询被拒绝
    假如 血液中心注销了本院的医院编码
    当 查询近 1 天的血站通知
    那么 连接器报告错误 "AuthRefused"
    而且 错误信息包含 "未在血液中心登记"
    而且 血液中心以 "Client.Auth" 故障拒绝了最后一笔 "QueryNotices"
