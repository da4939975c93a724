# language: zh-CN
@validation
功能: 发送前校验与平台规则
  连接器按记录类型的 XSD（值域、取值范围）和平台规则（身份证校验位、日期先后、上报时限）在发送前检查，
  不合格的记录不发送并指出元素；平台对收到的记录做同样的检查。

  背景:
    假如 医院已登录妇幼平台

  场景: 母亲身份证号校验位错误在发送前被发现
    当 上传母亲身份证号校验位错误的 "DELIVERY" 记录 "FM0501"
    那么 连接器在发送前拒绝该记录，指出 "motherIdCard"

  场景: 平台拒绝身份证号校验位错误的记录
    当 绕过连接器向平台发送 "身份证号校验位错误的记录"
    那么 平台答复该记录被拒绝，错误代码 "3001"

  场景大纲: 超出合理范围的<元素>在发送前被拒绝
    当 上传 "<记录类型>" 记录 "FM0502"，其中 "<元素>" 为 "<值>"
    那么 连接器在发送前拒绝该记录，指出 "<元素>"

    例子:
      | 记录类型          | 元素             | 值    |
      | BIRTH_CERT_FIRST  | birthWeight      | 9000  |
      | BIRTH_CERT_FIRST  | birthWeight      | 250   |
      | DELIVERY          | gestationalWeeks | 19    |
      | DELIVERY          | gestationalWeeks | 46    |
      | PRENATAL_FIRST    | motherEthnicity  | 57    |
      | NEWBORN_SCREENING | sex              | 3     |

  场景: 一条记录有两处问题时，连接器说明第一处并注明另有一处
    当 上传 "DELIVERY" 记录 "FM0504"，其中 "lastMenstrualPeriod" 为 "2099-01-01"，"motherIdCard" 为 "410105199203150021"
    那么 连接器在发送前拒绝该记录，错误信息说明第一处问题并注明另有 1 处
    而且 连接器在发送前拒绝该记录，指出 "motherIdCard"

  场景: 分娩日期早于末次月经在发送前被拒绝
    当 上传 "DELIVERY" 记录 "FM0503"，其中 "lastMenstrualPeriod" 为 "2099-01-01"
    那么 连接器在发送前拒绝该记录，指出 "deliveryDateTime"

  场景: 超过上报时限又未填写迟报原因在发送前被拒绝
    当 上传 "MATERNAL_DEATH" 记录 "SW0501"，其中 "deathDateTime" 为 "2020-01-01T08:00:00"
    那么 连接器在发送前拒绝该记录，指出 "lateReason"

  场景: 填写迟报原因的逾期报告被接收
    当 上传 "BIRTH_CERT_VOID" 记录 "CS0501"，其中 "voidDate" 为 "2020-01-01"
    那么 连接器在发送前拒绝该记录，指出 "lateReason"
    当 上传逾期的 "BIRTH_CERT_VOID" 记录 "CS0501"，迟报原因 "空白证盘点时发现"
    那么 上传结果为 "接收"
