"""Shared tables and the item builder for the civic-kiosk demo data.

Everything here is fictional demo data for a Changning (长宁区) self-service
terminal: department names follow the real naming scheme, but addresses,
time limits and materials are illustrative only.
"""

import zlib

VERSION = "2026.11.26-1"

# (department name, short code used in item codes)
DEPARTMENTS = [
    ("区公安分局", "GA"),
    ("区人力资源和社会保障局", "RS"),
    ("区医疗保障局", "YB"),
    ("上海市公积金管理中心长宁分中心", "GJJ"),
    ("区民政局", "MZ"),
    ("区教育局", "JY"),
    ("区卫生健康委员会", "WJ"),
    ("区残疾人联合会", "CL"),
    ("区市场监督管理局", "SJ"),
    ("国家税务总局上海市长宁区税务局", "SW"),
    ("区规划和自然资源局", "GH"),
    ("区交通委员会", "JT"),
    ("区住房保障和房屋管理局", "FG"),
    ("区退役军人事务局", "TY"),
    ("区文化和旅游局", "WL"),
    ("区生态环境局", "HB"),
    ("区司法局", "SF"),
    ("区建设和管理委员会", "JS"),
    ("区商务委员会", "SWW"),
    ("区应急管理局", "YJ"),
    ("区绿化和市容管理局", "LH"),
    ("区消防救援支队", "XF"),
]
DEPT_NAME = {code: name for name, code in DEPARTMENTS}

THEMES = [
    "户籍", "社保", "医保", "公积金", "出入境", "婚育", "教育", "养老",
    "残疾人服务", "企业开办", "税务", "不动产", "交通", "就业创业", "住房保障",
    "医疗卫生", "退役军人", "文化旅游", "环境保护", "法律服务", "民政救助",
    "市场监管", "建设工程", "商务贸易", "安全生产", "城市管理",
]

ALIASES = [
    ["身份证", "居民身份证"],
    ["医保", "医疗保障"],
    ["社保", "社会保险"],
    ["公积金", "住房公积金"],
    ["驾照", "机动车驾驶证"],
    ["护照", "普通护照"],
    ["港澳通行证", "往来港澳通行证"],
    ["台湾通行证", "往来台湾通行证"],
    ["台胞证", "台湾居民来往大陆通行证"],
    ["户口本", "居民户口簿"],
    ["户口簿", "居民户口簿"],
    ["执照", "营业执照"],
    ["开公司", "企业设立登记"],
    ["注销公司", "企业注销登记"],
    ["房产证", "不动产权证书"],
    ["过户", "不动产转移登记"],
    ["退休", "基本养老金申领"],
    ["养老金", "基本养老金"],
    ["失业金", "失业保险金"],
    ["低保", "最低生活保障"],
    ["残疾证", "中华人民共和国残疾人证"],
    ["敬老卡", "上海市敬老卡"],
    ["长护险", "长期护理保险"],
    ["老年津贴", "老年综合津贴"],
    ["出生证", "出生医学证明"],
    ["准生证", "生育登记"],
    ["领证", "结婚登记"],
    ["离婚", "离婚登记"],
    ["行驶证", "机动车行驶证"],
    ["车牌", "机动车号牌"],
    ["发票", "发票申领"],
    ["个税", "个人所得税"],
    ["廉租房", "廉租住房"],
    ["公租房", "公共租赁住房"],
    ["积分", "居住证积分"],
    ["法律援助", "法律援助申请"],
    ["公证", "公证服务"],
    ["当兵", "兵役登记"],
    ["复员", "退役士兵"],
    ["幼升小", "小学入学"],
    ["小升初", "初中入学"],
    ["随申办", "一网通办"],
    ["刻章", "公章刻制备案"],
    ["食品许可证", "食品经营许可证"],
]

ROAD_HOURS = "周一至周六 9:00-17:00"
WEEKDAY_HOURS = "周一至周五 9:00-17:00"

# Community service centres (社区事务受理服务中心), one per 街道/镇.
COMMUNITY = [
    ("华阳路街道社区事务受理服务中心", "上海市长宁区华阳路112号"),
    ("江苏路街道社区事务受理服务中心", "上海市长宁区江苏路480号"),
    ("新华路街道社区事务受理服务中心", "上海市长宁区新华路345号"),
    ("周家桥街道社区事务受理服务中心", "上海市长宁区仙霞路1366号"),
    ("天山路街道社区事务受理服务中心", "上海市长宁区天山路900号"),
    ("仙霞新村街道社区事务受理服务中心", "上海市长宁区仙霞路650号"),
    ("虹桥街道社区事务受理服务中心", "上海市长宁区古北路660号"),
    ("程家桥街道社区事务受理服务中心", "上海市长宁区哈密路1500号"),
    ("北新泾街道社区事务受理服务中心", "上海市长宁区北新泾路58号"),
    ("新泾镇社区事务受理服务中心", "上海市长宁区天山西路488号"),
]

# Department halls and other fixed places, by key.
PLACES = {
    "C": ("长宁区行政服务中心", "上海市长宁区延安西路1500号", ROAD_HOURS),
    "CRJ": ("区公安分局出入境接待大厅", "上海市长宁区虹桥路1230号", ROAD_HOURS),
    "CJG": ("区公安分局交警支队车驾管服务站", "上海市长宁区哈密路1800号", ROAD_HOURS),
    "GJJ": ("上海市公积金管理中心长宁分中心服务大厅", "上海市长宁区延安西路1088号", ROAD_HOURS),
    "RS": ("区人力资源和社会保障局服务大厅", "上海市长宁区天山路1066号", WEEKDAY_HOURS),
    "YB": ("区医疗保障事务中心", "上海市长宁区仙霞路799号", WEEKDAY_HOURS),
    "HY": ("区婚姻登记中心", "上海市长宁区新华路160号", "周一至周五 9:00-16:30"),
    "BDC": ("区不动产登记事务中心", "上海市长宁区古北路1000号", WEEKDAY_HOURS),
    "SW": ("区税务局第一税务所办税服务厅", "上海市长宁区延安西路1228号", WEEKDAY_HOURS),
    "CL": ("区残疾人联合会服务窗口", "上海市长宁区江苏路299号", WEEKDAY_HOURS),
    "TY": ("区退役军人服务中心", "上海市长宁区华阳路266号", WEEKDAY_HOURS),
    "JY": ("区教育局招生考试服务窗口", "上海市长宁区新华路401号", WEEKDAY_HOURS),
    "FY": ("区妇幼保健院证明办理窗口", "上海市长宁区江苏路786号", WEEKDAY_HOURS),
    "SF": ("区公共法律服务中心", "上海市长宁区虹桥路1385号", WEEKDAY_HOURS),
    "FG": ("区住房保障事务中心", "上海市长宁区仙霞路1200号", WEEKDAY_HOURS),
    "JT": ("区交通委员会服务窗口", "上海市长宁区哈密路1955号", WEEKDAY_HOURS),
    "WJ": ("区卫生健康委员会受理窗口", "上海市长宁区延安西路1300号", WEEKDAY_HOURS),
}

# Personal items that need one visit but can be applied for online first.
ONLINE_APPLY = {
    "居住证申领", "居住证续办", "居住证补领", "居住证变更登记", "社保卡申领", "社保卡补换",
    "基本养老金申领", "灵活就业人员社会保险登记", "失业保险金申领", "城乡居民基本医疗保险参保登记",
    "医疗费用零星报销", "个人住房公积金贷款申请", "无犯罪记录证明开具", "小学入学报名",
    "幼儿园入园报名", "来沪人员随迁子女义务教育入学", "长宁区老年综合津贴申请", "上海市敬老卡申领",
    "长期护理保险需求评估申请", "残疾人两项补贴申请", "最低生活保障申请", "不动产登记（存量房转移）",
    "不动产登记（新建商品房转移）", "不动产权证书补换", "人才引进落户申办", "留学回国人员落户申办",
    "应届高校毕业生落户申办", "居转户申请", "工伤认定申请", "家庭医生签约服务", "法律援助申请",
    "个人购房契税申报", "教师资格认定", "专业技术职称评审申报", "公共租赁住房申请",
    "住房公积金提取（出境定居）", "住房公积金提取（加装电梯）", "出租汽车驾驶员从业资格证申领",
    "网络预约出租汽车驾驶员证申领", "退役军人优待证申领", "劳动人事争议仲裁申请",
}

FORMS = {"原件", "复印件", "原件及复印件", "电子证照", "电子材料"}


def _place(name, address, hours):
    return {"name": name, "address": address, "hours": hours}


def _community_for(name, offset=0):
    idx = (zlib.crc32(name.encode("utf-8")) + offset) % len(COMMUNITY)
    n, a = COMMUNITY[idx]
    return _place(n, a, ROAD_HOURS)


def locations_for(name, spec):
    """spec: space-separated keys; "S" = a 社区事务受理服务中心 picked from the name."""
    out = []
    s_used = 0
    for key in spec.split():
        if key == "S":
            out.append(_community_for(name, s_used * 5))
            s_used += 1
        else:
            out.append(_place(*PLACES[key]))
    return out


def parse_materials(spec):
    """"名称|形式|份数|备注；..." with 形式 default 原件, 份数 default 1, 备注 default null."""
    out = []
    for part in spec.split("；"):
        part = part.strip()
        if not part:
            continue
        bits = part.split("|")
        name = bits[0]
        form = bits[1] if len(bits) > 1 and bits[1] else "原件"
        count = int(bits[2]) if len(bits) > 2 and bits[2] else 1
        note = bits[3] if len(bits) > 3 and bits[3] else None
        out.append({"name": name, "form": form, "count": count, "note": note})
    return out


def _split(spec):
    if isinstance(spec, (list, tuple)):
        return list(spec)
    return [s.strip() for s in spec.split("；") if s.strip()]


class Registry:
    """Collects items in definition order and hands out codes per department."""

    def __init__(self):
        self.items = []
        self.counters = {}
        self.by_name = {}

    def add(self, audience, dept, theme, name, summary, conds, mats, legal, promised,
            fee="不收费", loc="S C", visits=1, online=None, kw="", hf=False):
        if dept not in DEPT_NAME:
            raise ValueError(f"unknown department code {dept} for {name}")
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme} for {name}")
        if name in self.by_name:
            raise ValueError(f"duplicate item name {name}")
        if online is None:
            # 法人事项 are all applied for through 一网通办; personal ones are
            # online when fully remote or when listed in ONLINE_APPLY.
            online = audience == "legal" or visits == 0 or name in ONLINE_APPLY
        n = self.counters.get(dept, 0) + 1
        self.counters[dept] = n
        code = f"310105-{dept}-{n:04d}"
        item = {
            "code": code,
            "name": name,
            "audience": audience,
            "department": DEPT_NAME[dept],
            "theme": theme,
            "high_frequency": bool(hf),
            "summary": summary,
            "conditions": _split(conds),
            "materials": parse_materials(mats),
            "legal_limit_days": legal,
            "promised_limit_days": promised,
            "fee": fee,
            "locations": locations_for(name, loc),
            "visits": visits,
            "online": bool(online),
            "keywords": kw.split() if kw else [],
        }
        self.items.append(item)
        self.by_name[name] = item
        return code

    def personal(self, *a, **k):
        return self.add("personal", *a, **k)

    def legal(self, *a, **k):
        return self.add("legal", *a, **k)

    def code(self, name):
        try:
            return self.by_name[name]["code"]
        except KeyError:
            raise KeyError(f"no item named {name!r}") from None
