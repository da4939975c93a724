"""Valid HL7 v2 messages for the lis and pacs contracts, as ER7 text (segments ended by CR), built by hand.

Each builder returns a message that validates with no finding at all against its contract; tests break one
thing at a time with `replace_segment` / `edit`.
"""

from __future__ import annotations

MSH_TIME = "20240105101500"


def msh(kind: str, structure: str, control: str, version: str = "2.5.1", charset: str = "UNICODE UTF-8",
        sender: str = "HIS^HOSP", receiver: str = "LIS^LAB") -> str:
    send_app, send_fac = sender.split("^")
    recv_app, recv_fac = receiver.split("^")
    return (f"MSH|^~\\&|{send_app}|{send_fac}|{recv_app}|{recv_fac}|{MSH_TIME}||{kind}^{structure}|{control}|P|{version}"
            f"|||||CHN|{charset}")


def pid(name: str = "张三", version: str = "2.5.1") -> str:
    ids = "0001234567^^^HOSP^MR~110101199003071234^^^CHN^NNCHN"
    return f"PID|1||{ids}||{name}||19900307|M"


def pv1(patient_class: str = "O") -> str:
    return at("PV1", f1="1", f2=patient_class, f3="NEI^101^3", f19="V20240105001")


def join(*segments: str) -> str:
    return "\r".join(segments) + "\r"


def fields(*values: str) -> str:
    """`|`-joined values; helper for long segments: fields("OBR", "1", "", ...)."""
    return "|".join(values)


def at(segment: str, **positions: str) -> str:
    """A segment with the given fields set: at("OBR", f2="A", f25="F") -> OBR|...; positions are field numbers."""
    top = max(int(k[1:]) for k in positions)
    values = [""] * (top + 1)
    values[0] = segment
    for key, value in positions.items():
        values[int(key[1:])] = value
    return "|".join(values)


# -- lis 2024.1 (HL7 v2.5.1) ---------------------------------------------------------------------------------------
def obx(index: int, value: str = "6.5", flag: str = "N", status: str = "F", code: str = "WBC",
        text: str = "白细胞计数", value_type: str = "NM") -> str:
    return (f"OBX|{index}|{value_type}|{code}^{text}^L||{value}|10*9/L^^UCUM|3.5-9.5|{flag}|||{status}|||"
            f"20240105090000")


def lis_oru(obx_count: int = 3, status: str = "F", name: str = "张三", control: str = "LIS0001",
            version: str = "2.5.1", charset: str = "UNICODE UTF-8", critical: bool = False) -> str:
    """ORU^R01 from the LIS: one order, `obx_count` numeric results; OBX 2 flagged HH when `critical`."""
    structure = "ORU_R01"
    header = msh("ORU", f"R01^{structure}", control, version, charset, sender="LIS^LAB", receiver="HIS^HOSP")
    segs = [
        header, pid(name), pv1(),
        "ORC|RE|HIS20240105001|LIS20240105001||CM||||20240105101500",
        at("OBR", f1="1", f2="HIS20240105001", f3="LIS20240105001", f4="CBC^血常规^L", f7="20240105080000",
           f22="20240105101500", f25=status),
    ]
    for i in range(1, obx_count + 1):
        flag = "HH" if critical and i == 2 else "N"
        value = "35.2" if critical and i == 2 else f"{6.5 + i:.1f}"
        segs.append(obx(i, value=value, flag=flag, status=status, code=f"WBC{i}", text=f"白细胞计数{i}"))
    return join(*segs)


def lis_oml(order_control: str = "NW", control: str = "HIS0001") -> str:
    """OML^O21 from the hospital: one complete-blood-count order with its specimen."""
    return join(
        msh("OML", "O21^OML_O21", control),
        pid(), pv1(),
        f"ORC|{order_control}|HIS20240105001|||||||20240105080000|||D001^李医生",
        "TQ1|1||||||20240105083000|||R",
        at("OBR", f1="1", f2="HIS20240105001", f4="CBC^血常规^L", f16="D001^李医生"),
        "SPM|1|S20240105001||BLD^全血|||||||||||||20240105075500",
    )


def lis_orl(control: str = "LIS0002", acked: str = "HIS0001", order_control: str = "OK") -> str:
    """ORL^O22 from the LIS answering lis_oml()."""
    return join(
        msh("ORL", "O22^ORL_O22", control, sender="LIS^LAB", receiver="HIS^HOSP"),
        f"MSA|AA|{acked}",
        pid(),
        f"ORC|{order_control}|HIS20240105001|LIS20240105001||SC||||20240105080100",
    )


def lis_adt(trigger: str = "A01", control: str = "HIS0003", name: str = "张三") -> str:
    """ADT^A01 / A04 / A08 (structure ADT_A01) from the hospital."""
    return join(
        msh("ADT", f"{trigger}^ADT_A01", control),
        f"EVN|{trigger}|20240105080000",
        pid(name),
        pv1("I" if trigger == "A01" else "O"),
    )


def ack(acked: str = "HIS0001", code: str = "AA", control: str = "LIS0003", version: str = "2.5.1",
        trigger: str = "R01", sender: str = "LIS^LAB", receiver: str = "HIS^HOSP") -> str:
    """ACK answering message `acked` (original mode)."""
    return join(msh("ACK", f"{trigger}^ACK", control, version, sender=sender, receiver=receiver), f"MSA|{code}|{acked}")


# -- lis 2023.1 (HL7 v2.4) -----------------------------------------------------------------------------------------
def lis24_orm(order_control: str = "NW", control: str = "HIS2401", charset: str = "GB 18030-2000") -> str:
    return join(
        msh("ORM", "O01^ORM_O01", control, "2.4", charset),
        "PID|1||0001234567^^^HOSP^MR||张三||19900307|M|||||||||||110101199003071234",
        pv1(),
        f"ORC|{order_control}|HIS20240105001|||||^^^20240105083000^^R||20240105080000",
        at("OBR", f1="1", f2="HIS20240105001", f4="CBC^血常规^L", f15="BLD&全血"),
    )


def lis24_oru(obx_count: int = 3, status: str = "F", control: str = "LIS2401", charset: str = "GB 18030-2000",
              name: str = "张三") -> str:
    return lis_oru(obx_count, status, name, control, "2.4", charset)


# -- pacs 2024.1 ---------------------------------------------------------------------------------------------------
STUDY_UID = "1.2.156.112605.14038013507.20240105.1"


def pacs_orm(order_control: str = "NW", control: str = "HIS2402") -> str:
    """ORM^O01 (v2.4) from the hospital to the PACS/RIS: a chest CT, with a dcm4chee-style ZDS."""
    return join(
        msh("ORM", "O01", control, "2.4", receiver="PACS^RIS"),
        pid(), pv1(),
        f"ORC|{order_control}|HIS20240105002|||||||20240105080000|||D001^李医生",
        at("OBR", f1="1", f2="HIS20240105002", f4="CT001^胸部CT平扫^L", f13="咳嗽两周", f16="D001^李医生",
           f18="ACC20240105001", f24="CT"),
        f"ZDS|{STUDY_UID}^PACS^Application^DICOM",
    )


def pacs_omi(order_control: str = "NW", control: str = "HIS2501") -> str:
    """OMI^O23 (v2.5.1) from the hospital: a chest CT with its IPC."""
    return join(
        msh("OMI", "O23^OMI_O23", control, receiver="PACS^RIS"),
        pid(), pv1(),
        f"ORC|{order_control}|HIS20240105002|||||||20240105080000|||D001^李医生",
        "TQ1|1||||||20240105090000|||R",
        at("OBR", f1="1", f2="HIS20240105002", f4="CT001^胸部CT平扫^L", f13="咳嗽两周", f16="D001^李医生"),
        f"IPC|ACC20240105001|RP001|{STUDY_UID}|SPS001|CT",
    )


def pacs_omg(status: str = "IP", control: str = "RIS0001") -> str:
    """OMG^O19 (v2.5.1) from the PACS/RIS: the exam's status changed (ORC-5)."""
    return join(
        msh("OMG", "O19^OMG_O19", control, sender="PACS^RIS", receiver="HIS^HOSP"),
        pid(),
        f"ORC|SC|HIS20240105002|ACC20240105001||{status}||||20240105093000",
        at("OBR", f1="1", f2="HIS20240105002", f3="ACC20240105001", f4="CT001^胸部CT平扫^L"),
    )


def pacs_oru(status: str = "F", control: str = "RIS0002", version: str = "2.5.1") -> str:
    """ORU^R01 from the PACS/RIS: findings and impression as TX, the Study Instance UID as ST."""
    structure = "R01^ORU_R01" if version == "2.5.1" else "R01"
    return join(
        msh("ORU", structure, control, version, sender="PACS^RIS", receiver="HIS^HOSP"),
        pid(), pv1(),
        "ORC|RE|HIS20240105002|ACC20240105001||CM||||20240105110000",
        at("OBR", f1="1", f2="HIS20240105002", f3="ACC20240105001", f4="CT001^胸部CT平扫^L", f7="20240105093000",
           f22="20240105110000", f25=status),
        f"OBX|1|TX|59776-5^检查所见^LN||双肺纹理清晰，未见明确实质性病变。\\.br\\纵隔居中。||||||{status}",
        f"OBX|2|TX|19005-8^检查印象^LN||胸部CT平扫未见明显异常。||||||{status}",
        f"OBX|3|ST|113014^Study Instance UID^DCM||{STUDY_UID}||||||{status}",
    )
