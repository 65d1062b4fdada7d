#!/usr/bin/env python3
"""Generates config/demo/certificates.jsonl: the monthly records behind 证明打印 (all fictional).

    python3 scripts/gen-demo-certificates.py

One line per resident and kind: {"id_number", "kind", "issuer", "columns", "months":
[{"month", "amounts_fen"}]}, months oldest first, amounts in fen. Standard library only,
integer arithmetic only, deterministic: two runs give byte-identical files.
"""

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "config", "demo", "certificates.jsonl")

WANG = "310105195001011231"  # 王秀英, 76, retired, re-employed part time (返聘) by her street office
ZHANG = "310105199006154563"  # 张伟, 36, employed

SI_ISSUER = "上海市长宁区社会保险事业管理中心"
HF_ISSUER = "上海市公积金管理中心长宁分中心"
TAX_ISSUER = "国家税务总局上海市长宁区税务局"


def months(first, last):
    """'2023-01'..'2026-11' inclusive."""
    y, m = map(int, first.split("-"))
    ly, lm = map(int, last.split("-"))
    out = []
    while (y, m) <= (ly, lm):
        out.append((y, m))
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def pct(fen, per_10000):
    """fen * rate, the rate in 1/10000, rounded half up to the fen."""
    return (fen * per_10000 + 5000) // 10000


def line(id_number, kind, issuer, columns, rows):
    return {
        "id_number": id_number,
        "kind": kind,
        "issuer": issuer,
        "columns": columns,
        "months": [{"month": f"{y:04d}-{m:02d}", "amounts_fen": a} for (y, m), a in rows],
    }


SPAN = months("2023-01", "2026-11")


def wang_pension():
    # 基本养老金 raised every January (上海 yearly adjustment); the 医保个人账户 credit of a
    # retiree over 75 a fixed monthly sum.
    pension = {2023: 523600, 2024: 539300, 2025: 550100, 2026: 561100}
    account = {2023: 15240, 2024: 15240, 2025: 15390, 2026: 15390}
    rows = [((y, m), [pension[y], account[y]]) for (y, m) in SPAN]
    return line(WANG, "social_insurance", SI_ISSUER, ["基本养老金（元）", "医保个人账户划入（元）"], rows)


def wang_housing_fund():
    # 返聘 part time: base 7,310 yuan, 7% each side.
    base = 731000
    rows = [((y, m), [base, pct(base, 700), pct(base, 700)]) for (y, m) in SPAN]
    return line(WANG, "housing_fund", HF_ISSUER, ["缴存基数（元）", "个人缴存（元）", "单位缴存（元）"], rows)


# 综合所得 monthly withholding brackets: (upper bound of the year's cumulative taxable
# income in fen, rate in 1/100, quick deduction in fen).
BRACKETS = [
    (3600000, 3, 0),
    (14400000, 10, 252000),
    (30000000, 20, 1692000),
    (42000000, 25, 3192000),
    (66000000, 30, 5292000),
    (96000000, 35, 8592000),
    (None, 45, 18192000),
]


def cumulative_tax(taxable_fen):
    if taxable_fen <= 0:
        return 0
    for top, rate, quick in BRACKETS:
        if top is None or taxable_fen <= top:
            return (taxable_fen * rate + 50) // 100 - quick
    raise AssertionError


def withholding(income_by_year, deduction_by_year):
    """累计预扣法: each month's tax is the year's cumulative tax less what was withheld."""
    rows = []
    year, cum_taxable, withheld = None, 0, 0
    for (y, m) in SPAN:
        if y != year:
            year, cum_taxable, withheld = y, 0, 0
        income = income_by_year[y]
        cum_taxable += income - 500000 - deduction_by_year[y]
        due = cumulative_tax(cum_taxable)
        tax = due - withheld
        withheld = due
        rows.append(((y, m), [income, tax]))
    return rows


def wang_income_tax():
    # The 返聘 salary (the pension itself is not taxed).
    income = {y: 731000 for y in range(2023, 2027)}
    housing = pct(731000, 700)
    rows = withholding(income, {y: housing for y in income})
    return line(WANG, "income_tax", TAX_ISSUER, ["收入额（元）", "已缴税额（元）"], rows)


def zhang_base(y, m):
    # The base is set each July (上海 yearly adjustment).
    if (y, m) < (2023, 7):
        return 1140000
    if (y, m) < (2024, 7):
        return 1180000
    if (y, m) < (2025, 7):
        return 1230700
    return 1290000


def zhang_social_insurance():
    rows = []
    for (y, m) in SPAN:
        b = zhang_base(y, m)
        # Personal: pension 8%, medical 2%, unemployment 0.5%. Employer: pension 16%,
        # medical (with maternity) 9%, unemployment 0.5%, work injury 0.26%.
        rows.append(((y, m), [b, pct(b, 800), pct(b, 200), pct(b, 50), pct(b, 2576)]))
    columns = ["缴费基数（元）", "养老保险个人缴纳（元）", "医疗保险个人缴纳（元）", "失业保险个人缴纳（元）", "单位缴纳合计（元）"]
    return line(ZHANG, "social_insurance", SI_ISSUER, columns, rows)


def zhang_income_tax():
    income = {2023: 1500000, 2024: 1560000, 2025: 1620000, 2026: 1680000}
    rows = []
    year, cum_taxable, withheld = None, 0, 0
    for (y, m) in SPAN:
        if y != year:
            year, cum_taxable, withheld = y, 0, 0
        b = zhang_base(y, m)
        social = pct(b, 800) + pct(b, 200) + pct(b, 50)
        # 专项附加扣除: 住房租金 1,500 yuan a month.
        cum_taxable += income[y] - 500000 - social - 150000
        due = cumulative_tax(cum_taxable)
        rows.append(((y, m), [income[y], due - withheld]))
        withheld = due
    return line(ZHANG, "income_tax", TAX_ISSUER, ["收入额（元）", "已缴税额（元）"], rows)


def main():
    lines = [wang_pension(), wang_housing_fund(), wang_income_tax(), zhang_social_insurance(), zhang_income_tax()]
    for l in lines:
        assert len(l["months"]) >= 36, l["kind"]
        assert l["months"][-1]["month"] == "2026-11"
        assert all(len(r["amounts_fen"]) == len(l["columns"]) for r in l["months"])
        assert all(a >= 0 for r in l["months"] for a in r["amounts_fen"])
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        for l in lines:
            f.write(json.dumps(l, ensure_ascii=False) + "\n")
    with open(OUT, encoding="utf-8") as f:
        assert [json.loads(x) for x in f] == lines
    print(f"{OUT}: {len(lines)} lines")


if __name__ == "__main__":
    main()
