# language: zh-CN
@batch
功能: 批量上传
  UploadBatch 一次最多 100 条同类记录，平台逐条答复：部分成功是常态，被拒绝的记录不影响其他记录。

  背景:
    假如 医院已登录妇幼平台

  场景: 一批 100 条分娩记录全部接收
    当 批量上传 100 条 "DELIVERY" 记录，编号前缀 "FMB"
    那么 批量结果为 接收 100 条、拒绝 0 条
    而且 平台上共有 100 条记录
    而且 平台收到的操作依次为 "Login, UploadBatch"

  场景: 批量中已上传过的记录被拒绝，其余接收
    假如 平台已收到 "NEWBORN_SCREENING" 记录 "SCB0002"
    当 批量上传 "NEWBORN_SCREENING" 记录 "SCB0001, SCB0002, SCB0003"
    那么 批量结果为 接收 2 条、拒绝 1 条
    而且 记录 "SCB0002" 被拒绝，错误代码 "2001"
    而且 平台上记录 "SCB0002" 有 1 条，版本为 1

  场景: 批量中有一条本地校验不通过时整批不发送
    当 批量上传 "HEARING_SCREENING" 记录 "TLB0001, T1, TLB0003"
    那么 连接器在发送前拒绝该记录，指出 "recordNo"

  场景: 一批中混有两种记录类型时，连接器不发送
    当 批量上传不同类型的记录 "DELIVERY FMX0001, HEARING_SCREENING TLX0001"
    那么 连接器报告错误 "MchError"
    而且 错误信息包含 "one type"
    而且 平台收到的操作依次为 "Login"
