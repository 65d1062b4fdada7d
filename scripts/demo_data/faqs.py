"""小申问答: hand-written entries plus entries derived from the 办事指南 of items."""

from .faqs_a import FAQ_A
from .faqs_b import FAQ_B

VISITS = {0: "全程网办，无需到现场。", 1: "最多跑一次。", 2: "需要到现场两次。"}


def _mat(m):
    extra = m["form"] + (f"{m['count']}份" if m["count"] > 1 else "")
    if m["note"]:
        extra += f"，{m['note']}"
    return f"{m['name']}（{extra}）"


def _mats(item):
    return "、".join(_mat(m) for m in item["materials"])


def _loc(item):
    loc = item["locations"][0]
    return f"{loc['name']}（{loc['address']}）"


def _fee(item):
    return "本事项不收费。" if item["fee"] == "不收费" else f"收费标准：{item['fee']}。"


def t_materials(item):
    q = f"{item['name']}需要带哪些材料？"
    a = (f"需要准备：{_mats(item)}。"
         f"可到{_loc(item)}办理，办理时间为{item['locations'][0]['hours']}。")
    if item["online"]:
        a += "也可以在一网通办平台或本终端上在线申请。"
    return q, a


def t_time(item):
    q = f"{item['name']}多久能办好？"
    p, lim = item["promised_limit_days"], item["legal_limit_days"]
    if p == 0:
        a = f"{item['name']}为即办件，材料齐全、符合条件的当场办结。"
    elif lim is None:
        a = f"{item['name']}承诺{p}个工作日内办结。"
    else:
        a = f"{item['name']}承诺{p}个工作日内办结，法定办结时限为{lim}个工作日。"
    return q, a + VISITS[item["visits"]] + _fee(item)


def t_online(item):
    q = f"{item['name']}能在网上办吗？"
    if item["online"]:
        a = "可以在一网通办平台或本终端上提交申请。" + VISITS[item["visits"]]
    else:
        a = (f"{item['name']}目前需要到现场办理。"
             f"请到{_loc(item)}办理，办理时间为{item['locations'][0]['hours']}。")
    return q, a


def t_conditions(item):
    q = f"{item['name']}需要满足什么条件？"
    a = f"受理条件：{'；'.join(item['conditions'])}。办理部门为{item['department']}。"
    return q, a


ROTATION = [t_time, t_online, t_conditions]


def build(reg):
    out = []
    seen = set()

    def add(theme, question, answer, codes):
        if question in seen:
            raise ValueError(f"duplicate FAQ question {question}")
        seen.add(question)
        out.append({
            "id": f"FAQ-{len(out) + 1:04d}",
            "question": question,
            "answer": answer,
            "theme": theme,
            "items": codes,
        })

    for theme, q, a, names in FAQ_A + FAQ_B:
        add(theme, q, a, [reg.code(n) for n in names])

    # derived entries: materials for every high-frequency item, then a rotation
    # of time / online / conditions questions over every fourth other item
    for item in reg.items:
        if item["high_frequency"]:
            q, a = t_materials(item)
            add(item["theme"], q, a, [item["code"]])
    rot = 0
    for n, item in enumerate(reg.items):
        if item["high_frequency"] or n % 4 != 0:
            continue
        q, a = ROTATION[rot % len(ROTATION)](item)
        rot += 1
        add(item["theme"], q, a, [item["code"]])
    return out
