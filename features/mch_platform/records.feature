# language: zh-CN
@records
功能: 各类记录上传
  医院把妇幼记录（出生医学证明、筛查、分娩、产后检查、高危、出生缺陷、孕产妇死亡……）按记录类型各自的 XSD
  生成为 XML，以字符串放入 UploadRecord 上传。平台校验 XSD 与规则后接收，记录进入待审核。

  背景:
    假如 医院已登录妇幼平台

  场景大纲: 上传<名称>记录被平台接收
    当 上传 "<记录类型>" 记录 "<编号>"
    那么 上传结果为 "接收"
    而且 平台上记录 "<编号>" 有 1 条，版本为 1
    而且 平台上记录 "<编号>" 的状态为 "PENDING"
    而且 平台上记录 "<编号>" 的内容与医院记录一致
    而且 平台收到的操作依次为 "Login, UploadRecord"

    例子:
      | 记录类型           | 名称                 | 编号     |
      | BIRTH_CERT_FIRST   | 出生医学证明首次签发 | CS0001   |
      | BIRTH_CERT_REISSUE | 出生医学证明补发     | CS0002   |
      | BIRTH_CERT_REPLACE | 出生医学证明换发     | CS0003   |
      | BIRTH_CERT_VOID    | 出生医学证明作废     | CS0004   |
      | NEWBORN_SCREENING  | 新生儿疾病筛查       | SC0001   |
      | HEARING_SCREENING  | 新生儿听力筛查       | TL0001   |
      | PRENATAL_FIRST     | 首次产前检查         | CJ0001   |
      | DELIVERY           | 分娩记录             | FM0001   |
      | POSTPARTUM_42D     | 产后42天检查         | CH0001   |
      | HIGH_RISK          | 高危孕产妇           | GW0001   |
      | BIRTH_DEFECT       | 出生缺陷报告         | QX0001   |
      | MATERNAL_DEATH     | 孕产妇死亡报告       | SW0001   |

  场景: 审核通过的分娩记录
    假如 平台已收到 "DELIVERY" 记录 "FM0101"
    当 查询记录 "FM0101" 的审核结果
    那么 审核结果为 "PASSED"
