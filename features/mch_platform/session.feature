# language: zh-CN
@session
功能: 登录与会话
  Login 以机构编码和密码换取有时效的会话密钥，其余调用在 SOAP Header 携带。会话过期时平台以 Client.Auth
  故障拒绝，连接器重新登录后重做该调用。

  @allow_invalid:auth
  场景: 会话过期后连接器重新登录并完成上传
    假如 医院已登录妇幼平台
    而且 平台会话已过期
    当 上传 "HEARING_SCREENING" 记录 "TL0401"
    那么 上传结果为 "接收"
    而且 平台收到的操作依次为 "Login, UploadRecord, Login, UploadRecord"
    而且 平台收到记录 "TL0401" 的上传 2 次
    而且 平台上记录 "TL0401" 有 1 条，版本为 1

  场景: 会话有效期短于连接器的提前量时，连接器先重新登录再上传，不等平台拒绝
    假如 平台发放的会话有效期只有 1 秒
    而且 医院已登录妇幼平台
    而且 登录后已过去 1.5 秒
    当 上传 "HEARING_SCREENING" 记录 "TL0403"
    那么 上传结果为 "接收"
    而且 平台收到的操作依次为 "Login, Login, UploadRecord"

  场景: 错误的机构密码
    假如 平台上医院的密码已更换
    当 上传 "HEARING_SCREENING" 记录 "TL0402"
    那么 连接器报告错误 "AuthFailed"
    而且 平台收到的操作依次为 "Login"

  @allow_invalid:auth,payload
  场景: 不带会话头的请求被拒绝
    当 绕过连接器向平台发送 "无会话头的上传"
    那么 平台以 "Client.Auth" 故障拒绝该请求

  @allow_invalid:auth,payload
  场景: 伪造的会话密钥被拒绝
    当 绕过连接器向平台发送 "伪造会话密钥的上传"
    那么 平台以 "Client.Auth" 故障拒绝该请求
