# language: zh-CN
@xsd
功能: 不符合模式的请求
  血液中心用 XSD 严格校验每个请求：不符合模式的请求得到 SOAP Fault Client，故障信息指出位置，什么也不做。
  连接器在发送前做同样的校验，不把不符合合同的请求发出去。

  @allow_invalid:xsd
  场景大纲: 不符合 XSD 的请求被拒绝并指出位置（<改动>）
    当 向血液中心发送 "<改动>" 的请求
    那么 血液中心以 SOAP Fault "Client" 拒绝，指出位置 "<位置>"
    而且 血液中心共有 0 张预约单

    例子:
      | 改动               | 位置                                              |
      | ABO 血型为 X         | /Envelope/Body/SubmitBloodOrder/order/item/abo      |
      | 缺少预约单号         | /Envelope/Body/SubmitBloodOrder/order/urgency       |
      | 要求送达时间不是时间 | /Envelope/Body/SubmitBloodOrder/order/wantedAt      |
      | 数量为 0             | /Envelope/Body/SubmitBloodOrder/order/item/quantity |
      | 多出未知元素         | /Envelope/Body/SubmitBloodOrder/order/item/color    |
      | 献血码少一位         | /Envelope/Body/ConfirmReceipt/unit/din              |

  场景: 连接器不发送产品代码不在代码表中的预约单
    当 提交产品代码为 "E9999" 的预约单 "ORD0901"
    那么 连接器报告错误 "InvalidInput"
    而且 错误信息包含 "productCode"
    而且 血液中心没有收到 "SubmitBloodOrder"
