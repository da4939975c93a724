# language: zh-CN
@policy
功能: 政策版本
  2025.1 起分娩记录必须填写产后出血量 postpartumBloodLossMl（DE04.10.012.00）；2024.1 的分娩记录没有这个元素。
  连接器按所用版本的合同（记录 XSD）生成记录并在发送前检查。

  背景:
    假如 医院已登录妇幼平台

  @contract>=2025.1
  场景: 2025.1 起缺少产后出血量的分娩记录在发送前被拒绝
    当 上传 "DELIVERY" 记录 "FM0601"，其中 "postpartumBloodLossMl" 为 "无"
    那么 连接器在发送前拒绝该记录，指出 "postpartumBloodLossMl"

  @contract>=2025.1
  场景: 2025.1 起分娩记录携带产后出血量
    当 上传 "DELIVERY" 记录 "FM0602"
    那么 上传结果为 "接收"
    而且 最后上传的记录含元素 "postpartumBloodLossMl"

  @contract<2025.1
  场景: 2024.1 的分娩记录不带产后出血量也被接收
    当 上传 "DELIVERY" 记录 "FM0603"，其中 "postpartumBloodLossMl" 为 "无"
    那么 上传结果为 "接收"
    而且 最后上传的记录不含元素 "postpartumBloodLossMl"

  @contract<2025.1
  场景: 2024.1 不认识产后出血量，连接器不发送它
    当 上传 "DELIVERY" 记录 "FM0604"
    那么 上传结果为 "接收"
    而且 最后上传的记录不含元素 "postpartumBloodLossMl"
