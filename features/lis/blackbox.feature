# language: zh-CN
@blackbox
功能: 医院接收端（黑盒）
  只用医院的接收地址、不用 Python 连接器也能运行的场景：LIS 持有医嘱，向医院的接收端发结果，检查医院的确认。
  设 HIH_LIS_LISTENER=主机:端口 即检查真实 HIS 的接收端（见 docs/lis-pacs.md）。

  背景:
    假如 患者 "李四"，病历号 "MRN0200"
    而且 LIS 已持有医嘱 "P0200"

  场景: 初步与最终结果都得到 AA，确认符合约定
    当 LIS 回传医嘱 "P0200" 的 "P" 结果
    那么 医院确认为 "AA"
    当 LIS 回传医嘱 "P0200" 的 "F" 结果
    那么 医院确认为 "AA"
    而且 LIS 记录的结果确认依次为 "AA,AA"
    而且 LIS 上医嘱 "P0200" 的状态为 "最终报告"

  场景: 重复的结果得到与第一次相同的确认
    当 LIS 回传医嘱 "P0200" 的 "F" 结果
    而且 LIS 再次发送上一条消息（同一 MSH-10）
    那么 两次确认相同

  @allow_invalid:usage
  场景: 缺少必填字段的结果得到 AE 和 ERR
    当 LIS 回传医嘱 "P0200" 的 "F" 结果，但 "PID-5" 为空
    那么 医院确认为 "AE"，错误码 "101"

  @allow_invalid:message_type,value_set
  场景: 不认识的消息类型得到 AR
    当 LIS 发送一条消息类型为 "ZZZ^Z99" 的消息
    那么 医院确认为 "AR"

  @allow_invalid:ack
  场景: LIS 误把确认消息（ACK）发给医院时，医院不回确认
    当 LIS 向医院发送一个确认消息（ACK）
    那么 医院没有回确认
