"""Fictional residents with GB 11643-1999 ID numbers (checksums computed here)."""

import datetime
import random

TODAY = datetime.date(2026, 11, 26)
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"

SPECIAL = "堃喆赟昇燊淼垚彧犇玥暠旻珺甦翀弢婧祎瑄炜"
SPECIAL_F = set("玥珺婧祎瑄旻淼甦喆昇炜彧")
SPECIAL_M = set("堃赟燊垚犇暠翀弢喆昇炜彧旻淼甦")

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严武戴莫孔汤施倪俞瞿朱张王李陈徐沈陆顾周吴"
)
COMPOUND = ["欧阳", "司马", "诸葛", "上官", "东方", "司徒", "慕容"]

GIVEN = {
    ("old", "f"): list("秀英桂兰凤珍玉梅芳华琴娣宝妹彩霞丽萍淑惠云莲月芬"),
    ("old", "m"): list("建国华明德忠志福根生林荣发宝金海龙军平伟强庆兴富祥"),
    ("mid", "f"): list("丽敏静婷娟霞萍红玲燕琳莉慧洁雪颖倩芳晶蕾"),
    ("mid", "m"): list("伟强军明勇杰涛斌磊超鹏辉刚峰浩俊毅斌亮东"),
    ("young", "f"): list("欣怡佳悦诗涵梓雨嘉思晓可馨若语彤萱妍瑶钰"),
    ("young", "m"): list("浩宇轩博文晨然子一航睿泽皓宸铭昊霖奕骏逸"),
}

FIXED = [
    ("310105", datetime.date(1950, 1, 1), 123, "王秀英", False),
    ("310105", datetime.date(1990, 6, 15), 456, "张伟", False),
    ("310105", datetime.date(2012, 9, 9), 789, "李小燊", False),
    ("310105", datetime.date(1985, 3, 20), 246, "陈赟", True),
]

OTHER_REGIONS = ["310104", "310106", "310107", "310112", "320102", "330106", "420106"]


def check_char(first17):
    s = sum(int(c) * w for c, w in zip(first17, WEIGHTS))
    return CHECK[s % 11]


def make_id(region, birth, seq):
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


def verify_id(idn):
    if len(idn) != 18 or not idn[:17].isdigit():
        return False
    datetime.date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14]))  # raises if invalid
    return check_char(idn[:17]) == idn[17]


def age_on(birth, on=TODAY):
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _rand_date(rng, start, end):
    span = (end - start).days
    return start + datetime.timedelta(days=rng.randint(0, span))


def _era(birth):
    if birth.year < 1968:
        return "old"
    if birth.year < 1995:
        return "mid"
    return "young"


class NameMaker:
    def __init__(self, rng):
        self.rng = rng
        self.counts = {c: 0 for c in SPECIAL}
        self.used = set()

    def _pick_special(self, sex, exclude=""):
        pool = SPECIAL_F if sex == "f" else SPECIAL_M
        cands = [c for c in SPECIAL if c in pool and c not in exclude]
        low = min(self.counts[c] for c in cands)
        best = [c for c in cands if self.counts[c] == low]
        c = self.rng.choice(best)
        self.counts[c] += 1
        return c

    def make(self, sex, birth, want_special):
        rng = self.rng
        for _ in range(50):
            compound = rng.random() < 0.05
            surname = rng.choice(COMPOUND) if compound else rng.choice(SURNAMES)
            pool = GIVEN[(_era(birth), sex)]
            glen = 1 if compound else (1 if rng.random() < 0.3 else 2)
            if want_special:
                sp = self._pick_special(sex)
                if glen == 1:
                    given = sp
                elif rng.random() < 0.35:
                    given = sp + self._pick_special(sex, exclude=sp)
                elif rng.random() < 0.5:
                    given = sp + rng.choice(pool)
                else:
                    given = rng.choice(pool) + sp
            else:
                given = "".join(rng.choice(pool) for _ in range(glen))
                if glen == 2 and given[0] == given[1] and _era(birth) != "young":
                    given = given[0] + rng.choice(pool)
            name = surname + given
            if name not in self.used:
                self.used.add(name)
                return name
            # undo special counts for a rejected duplicate
            for ch in given:
                if ch in self.counts:
                    self.counts[ch] -= 1
        raise RuntimeError("could not make a unique name")


def generate(seed=20261126, total=520):
    rng = random.Random(seed)
    names = NameMaker(rng)
    out = []
    ids = set()

    def add(region, birth, seq, name, disabled):
        idn = make_id(region, birth, seq)
        if idn in ids:
            return False
        ids.add(idn)
        out.append({"id_number": idn, "name": name, "disabled": disabled})
        return True

    for region, birth, seq, name, disabled in FIXED:
        add(region, birth, seq, name, disabled)
        names.used.add(name)
        for ch in name:
            if ch in names.counts:
                names.counts[ch] += 1

    n_rest = total - len(FIXED)
    n_senior = round(total * 0.45) - 1      # 王秀英 is a senior
    n_minor = round(total * 0.15) - 1       # 李小燊 is a minor
    n_adult = n_rest - n_senior - n_minor
    plan = []
    # boundary birthdays around the 60th birthday on 2026-11-26
    boundary = [datetime.date(1966, 11, 25), datetime.date(1966, 11, 26)]
    for d in boundary:
        plan.append(("senior", d))
    for _ in range(n_senior - len(boundary)):
        plan.append(("senior", _rand_date(rng, datetime.date(1930, 1, 1), datetime.date(1966, 11, 26))))
    for _ in range(n_minor):
        plan.append(("minor", _rand_date(rng, datetime.date(2009, 1, 1), datetime.date(2024, 12, 31))))
    plan.append(("adult", datetime.date(1966, 11, 27)))
    for _ in range(n_adult - 1):
        plan.append(("adult", _rand_date(rng, datetime.date(1966, 11, 27), datetime.date(2008, 11, 26))))
    rng.shuffle(plan)

    adults_total = n_adult + 2  # + 张伟 and 陈赟
    disabled_target = round(adults_total * 0.08) - 1  # 陈赟 already
    disabled_left = disabled_target
    special_share = 0.72
    for group, birth in plan:
        while True:
            r = rng.random()
            region = "310105" if r < 0.7 else rng.choice(OTHER_REGIONS)
            seq = rng.randint(1, 999)
            sex = "m" if seq % 2 == 1 else "f"
            name = names.make(sex, birth, rng.random() < special_share)
            disabled = False
            if group == "adult" and disabled_left > 0 and rng.random() < 0.12:
                disabled = True
            if add(region, birth, seq, name, disabled):
                if disabled:
                    disabled_left -= 1
                break
    # top up disabled adults deterministically if the random pass fell short
    if disabled_left > 0:
        for rec in out[len(FIXED):]:
            if disabled_left == 0:
                break
            b = datetime.date(int(rec["id_number"][6:10]), int(rec["id_number"][10:12]),
                              int(rec["id_number"][12:14]))
            if 18 <= age_on(b) <= 59 and not rec["disabled"]:
                rec["disabled"] = True
                disabled_left -= 1
    return out


def birth_of(idn):
    return datetime.date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14]))


def self_check(residents):
    assert len(residents) >= 320, len(residents)
    ids = [r["id_number"] for r in residents]
    assert len(set(ids)) == len(ids), "duplicate ID numbers"
    for r in residents:
        assert verify_id(r["id_number"]), r
        assert 2 <= len(r["name"]) <= 3, r["name"]
        assert isinstance(r["disabled"], bool)
        assert birth_of(r["id_number"]) <= TODAY
    assert sum(i.endswith("X") for i in ids) >= 10, "need >= 10 IDs ending in X"
    fixed = [(make_id(reg, b, s), n, d) for reg, b, s, n, d in FIXED]
    for (idn, name, dis), rec in zip(fixed, residents[:4]):
        assert rec == {"id_number": idn, "name": name, "disabled": dis}, rec
    n = len(residents)
    ages = [age_on(birth_of(i)) for i in ids]
    seniors = sum(a >= 60 for a in ages)
    minors = sum(a < 18 for a in ages)
    adults = n - seniors - minors
    assert 0.42 <= seniors / n <= 0.48, seniors / n
    assert 0.12 <= minors / n <= 0.18, minors / n
    disabled_adults = sum(r["disabled"] and 18 <= a <= 59 for r, a in zip(residents, ages))
    assert sum(r["disabled"] for r in residents) == disabled_adults
    assert 0.06 <= disabled_adults / adults <= 0.10, disabled_adults / adults
    births = {birth_of(i) for i in ids}
    for d in (datetime.date(1966, 11, 25), datetime.date(1966, 11, 26), datetime.date(1966, 11, 27)):
        assert d in births, d
    for ch in SPECIAL:
        c = sum(ch in r["name"] for r in residents)
        assert c >= 20, f"only {c} names with {ch}"
    assert any(r["name"][:2] in COMPOUND for r in residents)
    for ch in "堃喆赟燊":
        assert any(ch in r["name"] for r in residents)
    return {"total": n, "seniors": seniors, "minors": minors, "adults": adults,
            "disabled": disabled_adults, "x_check": sum(i.endswith("X") for i in ids)}
