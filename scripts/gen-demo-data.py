#!/usr/bin/env python3
"""Generates the civic-kiosk demo data (all fictional).

    python3 scripts/gen-demo-data.py

Writes config/demo/catalogue.json, config/demo/residents.jsonl and
config/demo/README.md. Standard library only and deterministic: running it
twice gives byte-identical files. Ends with self-checks.
"""

import json
import os
import re
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from demo_data import common  # noqa: E402
from demo_data import items_personal, items_social, items_life, items_life2  # noqa: E402
from demo_data import items_legal, items_legal2  # noqa: E402
from demo_data import bundles, english, faqs, residents  # noqa: E402

ROOT = os.path.dirname(HERE)
OUT_DIR = os.path.join(ROOT, "config", "demo")


def build_catalogue():
    reg = common.Registry()
    for mod in (items_personal, items_social, items_life, items_life2, items_legal, items_legal2):
        mod.define(reg)
    return english.add({
        "version": common.VERSION,
        "departments": [name for name, _ in common.DEPARTMENTS],
        "themes": list(common.THEMES),
        "aliases": [list(p) for p in common.ALIASES],
        "items": reg.items,
        "bundles": bundles.build(reg),
        "faqs": faqs.build(reg),
    })


CODE_RE = re.compile(r"^310105-([A-Z]{2,4})-(\d{4})$")
ITEM_KEYS = ["code", "name", "audience", "department", "theme", "high_frequency", "summary",
             "conditions", "materials", "legal_limit_days", "promised_limit_days", "fee",
             "locations", "visits", "online", "keywords"]
ADDR_RE = re.compile(r"^上海市长宁区.+(路|镇).*\d+号$")


def check_catalogue(c):
    items = c["items"]
    codes = {i["code"] for i in items}
    names = [i["name"] for i in items]
    assert len(c["departments"]) >= 16 and len(set(c["departments"])) == len(c["departments"])
    assert len(c["themes"]) >= 22 and len(set(c["themes"])) == len(c["themes"])
    for t in ["户籍", "社保", "医保", "公积金", "出入境", "婚育", "教育", "养老", "残疾人服务",
              "企业开办", "税务", "不动产", "交通", "就业创业", "住房保障", "医疗卫生", "退役军人",
              "文化旅游", "环境保护", "法律服务", "民政救助", "市场监管"]:
        assert t in c["themes"], t
    assert len(c["aliases"]) >= 25
    assert all(len(a) == 2 and a[0] != a[1] for a in c["aliases"]), "alias pairs"
    assert len(items) >= 320, len(items)
    assert len(codes) == len(items), "duplicate codes"
    assert len(set(names)) == len(names), "duplicate names"
    assert sum(i["audience"] == "legal" for i in items) >= 90
    hf = sum(i["high_frequency"] for i in items)
    assert 30 <= hf <= 40, f"{hf} high-frequency items"
    used_depts, used_themes = set(), set()
    for i in items:
        assert list(i.keys()) in (ITEM_KEYS, ITEM_KEYS + ["en"]), i["code"]
        m = CODE_RE.match(i["code"])
        assert m, i["code"]
        assert common.DEPT_NAME[m.group(1)] == i["department"], i["code"]
        assert i["audience"] in ("personal", "legal")
        assert i["department"] in c["departments"] and i["theme"] in c["themes"]
        used_depts.add(i["department"])
        used_themes.add(i["theme"])
        assert i["summary"] and 1 <= len(i["conditions"]) <= 4, i["name"]
        assert 1 <= len(i["materials"]) <= 6, i["name"]
        for mat in i["materials"]:
            assert set(mat) == {"name", "form", "count", "note"}
            assert mat["form"] in common.FORMS, (i["name"], mat)
            assert isinstance(mat["count"], int) and mat["count"] >= 1
            assert mat["note"] is None or isinstance(mat["note"], str)
        lim, prom = i["legal_limit_days"], i["promised_limit_days"]
        assert isinstance(prom, int) and prom >= 0
        assert lim is None or (isinstance(lim, int) and prom <= lim), i["name"]
        assert i["fee"] == "不收费" or re.search(r"\d+元|按|减免|免费|不收费", i["fee"]), i["fee"]
        assert 1 <= len(i["locations"]) <= 2, i["name"]
        for loc in i["locations"]:
            assert ADDR_RE.match(loc["address"]), loc
            assert loc["hours"]
        assert i["visits"] in (0, 1, 2)
        assert i["online"] or i["visits"] > 0, i["name"]
        assert len(i["keywords"]) <= 4, i["name"]
        text = json.dumps(i, ensure_ascii=False)
        assert "http" not in text and "www." not in text, i["name"]
        assert not re.search(r"\d{3,4}-\d{7,8}|1[3-9]\d{9}|12345", text), i["name"]
    translated = [i for i in items if "en" in i]
    assert all("en" in i for i in items if i["high_frequency"]), "high-frequency items in English"
    assert not re.search(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]",
                         json.dumps([i["en"] for i in translated] + [b["en"] for b in c["bundles"]
                                    if "en" in b] + list(c["themes_en"].values())
                                    + list(c["departments_en"].values()))), "Chinese in English"
    assert used_depts == set(c["departments"]), set(c["departments"]) - used_depts
    assert used_themes == set(c["themes"]), set(c["themes"]) - used_themes
    all_locs = {loc["name"] for i in items for loc in i["locations"]}
    for n, _ in common.COMMUNITY:
        assert n in all_locs, n
    assert "长宁区行政服务中心" in all_locs
    assert common.ONLINE_APPLY <= set(names), common.ONLINE_APPLY - set(names)

    def named(sub, theme=None):
        return [i for i in items if sub in i["name"] and (theme is None or i["theme"] == theme)]

    for n in ["居住证申领", "居住证签注", "居住证积分申请", "居住证变更登记", "居住证补领",
              "社保卡申领", "社会保险缴费记录查询", "灵活就业人员社会保险登记",
              "住房公积金提取（购房）", "住房公积金提取（租房）", "住房公积金提取（离退休）",
              "企业名称自主申报", "公章刻制备案", "结婚登记", "生育登记", "不动产权证书补换",
              "残疾人证申领", "残疾人两项补贴申请", "长宁区老年综合津贴申请", "上海市敬老卡申领"]:
        assert n in names, n
    assert len(named("居住证")) >= 5
    assert len([i for i in items if i["theme"] == "社保"]) >= 8
    assert len(named("住房公积金提取")) >= 3 and len([i for i in items if i["theme"] == "公积金"]) >= 8
    assert named("长宁")
    for sub in ["老年综合津贴", "敬老卡", "长期护理保险", "护照", "往来港澳通行证", "往来台湾通行证",
                "出生医学证明", "不动产登记", "企业设立登记", "发票申领"]:
        assert any(sub in n for n in names), sub
    for theme in ["养老", "残疾人服务", "企业开办", "税务", "不动产", "交通", "出入境", "婚育", "教育"]:
        assert len([i for i in items if i["theme"] == theme]) >= 4, theme
    assert any(i["theme"] == "企业开办" and i["audience"] == "legal" for i in items)

    assert len(c["bundles"]) >= 12
    bcodes = set()
    for b in c["bundles"]:
        assert re.match(r"^YJS-\d{3}$", b["code"]) and b["code"] not in bcodes
        bcodes.add(b["code"])
        assert 2 <= len(b["items"]) <= 8 and all(x in codes for x in b["items"]), b["code"]
        assert len(set(b["items"])) == len(b["items"])
        mats = [m["name"] for x in b["items"] for m in next(i for i in items if i["code"] == x)["materials"]]
        assert len(mats) > len(set(mats)), f"bundle {b['name']} shares no material"
    assert len({b["name"] for b in c["bundles"]}) == len(c["bundles"])

    assert len(c["faqs"]) >= 220, len(c["faqs"])
    qs = [f["question"] for f in c["faqs"]]
    assert len(set(qs)) == len(qs), "duplicate questions"
    for n, f in enumerate(c["faqs"], 1):
        assert f["id"] == f"FAQ-{n:04d}"
        assert f["theme"] in c["themes"]
        assert len(f["items"]) <= 3 and all(x in codes for x in f["items"]), f["id"]
        sentences = [s for s in re.split(r"[。！？]", f["answer"]) if s.strip()]
        assert 2 <= len(sentences) <= 4, (f["id"], f["answer"])
        assert "http" not in f["answer"] and not re.search(r"1[3-9]\d{9}|\d{8}", f["answer"])
    return {"items": len(items), "legal": sum(i["audience"] == "legal" for i in items),
            "personal": sum(i["audience"] == "personal" for i in items), "high_frequency": hf,
            "departments": len(c["departments"]), "themes": len(c["themes"]),
            "aliases": len(c["aliases"]), "bundles": len(c["bundles"]), "faqs": len(c["faqs"]),
            "english": len(translated)}


README = """# 演示数据 / Demo data

本目录下的数据**全部为虚构**，仅用于 civic-kiosk 的开发、测试和演示：
事项名称参照上海市“一网通办”常见事项，但办理条件、材料、时限、收费、地址
均为示意；居民姓名和身份证号码为随机生成，不对应任何真实人员。

All data in this directory is fictional and exists for development, tests and demos only.

| 文件 | 内容 |
|---|---|
| `catalogue.json` | 事项目录：部门 {departments} 个、主题 {themes} 个、搜索别名 {aliases} 组、事项 {items} 项（个人 {personal}、法人 {legal}，高频 {high_frequency}，带英文 {english}）、“一件事” {bundles} 个、小申问答 {faqs} 条 |
| `residents.jsonl` | 虚构居民 {total} 人，每行一个 JSON 对象（`id_number`、`name`、`disabled`）：60周岁及以上 {seniors}、未满18周岁 {minors}、18–59周岁 {adults}（其中持证残疾人 {disabled}）；身份证号码校验位按 GB 11643-1999 计算，年龄以 2026-11-26 为准 |

重新生成（确定性，两次运行结果逐字节一致）：

```
python3 scripts/gen-demo-data.py
```

生成器位于 `scripts/gen-demo-data.py` 与 `scripts/demo_data/`，仅使用 Python 3.11 标准库，末尾带自检。
请勿手工编辑这些文件，修改生成器后重新运行。
"""


def main():
    cat = build_catalogue()
    people = residents.generate()
    cstats = check_catalogue(cat)
    rstats = residents.self_check(people)
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "catalogue.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(cat, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(OUT_DIR, "residents.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for p in people:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    with open(os.path.join(OUT_DIR, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(README.format(**cstats, **rstats))
    # re-read what was written and check again
    with open(os.path.join(OUT_DIR, "catalogue.json"), encoding="utf-8") as f:
        assert json.load(f) == cat
    with open(os.path.join(OUT_DIR, "residents.jsonl"), encoding="utf-8") as f:
        assert [json.loads(line) for line in f] == people
    print("catalogue:", cstats)
    print("residents:", rstats)
    for p in people[:4]:
        print("fixed resident:", p["id_number"], p["name"], p["disabled"])


if __name__ == "__main__":
    main()
