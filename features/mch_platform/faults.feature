# language: zh-CN
@faults
功能: 故障与恢复
  应答丢失、连接被重置、应答损坏、平台繁忙时，连接器不盲目重发：先按记录类型与编号查询平台，平台已有本次
  上传（上传流水号相同）就记为已接收，没有才重发。每条记录在平台上恰好一次。

  背景:
    假如 医院已登录妇幼平台

  场景: 上传应答丢失后不重复上传
    假如 平台对 "UploadRecord" 注入故障 "no_reply"（处理后）
    当 上传 "DELIVERY" 记录 "FM0701"
    那么 上传结果为 "接收"
    而且 平台收到记录 "FM0701" 的上传 1 次
    而且 平台上记录 "FM0701" 有 1 条，版本为 1
    而且 平台收到的操作依次为 "Login, UploadRecord, QueryUploadResult"

  场景: 批量应答丢失后逐条确认
    假如 平台对 "UploadBatch" 注入故障 "no_reply"（处理后）
    当 批量上传 "HIGH_RISK" 记录 "GW0701, GW0702, GW0703"
    那么 批量结果为 接收 3 条、拒绝 0 条
    而且 平台收到记录 "GW0702" 的上传 1 次
    而且 平台上共有 3 条记录

  场景: 请求未到达平台时重发一次
    假如 平台对 "UploadRecord" 注入故障 "reset"（处理前）
    当 上传 "NEWBORN_SCREENING" 记录 "SC0701"
    那么 上传结果为 "接收"
    而且 平台上记录 "SC0701" 有 1 条，版本为 1
    而且 平台收到的操作依次为 "Login, UploadRecord, QueryUploadResult, UploadRecord"

  场景: 应答损坏时查询确认
    假如 平台对 "UploadRecord" 注入故障 "malformed"（处理后）
    当 上传 "BIRTH_DEFECT" 记录 "QX0701"
    那么 上传结果为 "接收"
    而且 平台收到记录 "QX0701" 的上传 1 次

  场景: 平台繁忙的故障应答后查询确认
    假如 平台对 "UploadRecord" 注入故障 "error_reply"（处理前）
    当 上传 "PRENATAL_FIRST" 记录 "CJ0701"
    那么 上传结果为 "接收"
    而且 平台上记录 "CJ0701" 有 1 条，版本为 1

  场景: 网关返回 503 后重发
    假如 平台对 "UploadRecord" 注入故障 "http_status"（处理前）
    当 上传 "HEARING_SCREENING" 记录 "TL0701"
    那么 上传结果为 "接收"
    而且 平台收到记录 "TL0701" 的上传 2 次
    而且 平台上记录 "TL0701" 有 1 条，版本为 1

  场景: 平台长时间不可用时记录留在待发箱，恢复后补发
    假如 平台此后对所有请求都不应答
    当 上传 "POSTPARTUM_42D" 记录 "CH0701"
    那么 连接器报告错误 "Unavailable"
    而且 待发记录数为 1
    当 平台恢复应答
    而且 连接器处理待发记录
    那么 待发记录数为 0
    而且 平台上记录 "CH0701" 有 1 条，版本为 1
