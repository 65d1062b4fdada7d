"""English for the demo catalogue (#18, defect 6): theme and department names, and one
complete English block per translated item or bundle.

An item's English is all or nothing: `add(catalogue)` builds the block from the tables
below and fails when any part (a condition, a material, a note, the fee, a place) has no
English, so no half-translated item can be written. Items and bundles not listed here
have no English, and the terminal shows them in Chinese with a note that says so.
"""

from . import common

THEMES = {
    "户籍": "Household registration", "社保": "Social insurance", "医保": "Medical insurance",
    "公积金": "Housing fund", "出入境": "Travel documents", "婚育": "Marriage and birth",
    "教育": "Education", "养老": "Elderly care", "残疾人服务": "Disability services",
    "企业开办": "Starting a business", "税务": "Tax", "不动产": "Real estate",
    "交通": "Transport", "就业创业": "Jobs and start-ups", "住房保障": "Housing support",
    "医疗卫生": "Health care", "退役军人": "Veterans", "文化旅游": "Culture and tourism",
    "环境保护": "Environment", "法律服务": "Legal services", "民政救助": "Social assistance",
    "市场监管": "Market regulation", "建设工程": "Construction", "商务贸易": "Commerce and trade",
    "安全生产": "Work safety", "城市管理": "City management",
}

DEPARTMENTS = {
    "区公安分局": "District Public Security Bureau",
    "区人力资源和社会保障局": "District Human Resources and Social Security Bureau",
    "区医疗保障局": "District Medical Insurance Bureau",
    "上海市公积金管理中心长宁分中心": "Shanghai Housing Fund Centre, Changning Branch",
    "区民政局": "District Civil Affairs Bureau",
    "区教育局": "District Education Bureau",
    "区卫生健康委员会": "District Health Commission",
    "区残疾人联合会": "District Disabled Persons' Federation",
    "区市场监督管理局": "District Market Regulation Bureau",
    "国家税务总局上海市长宁区税务局": "Changning District Tax Bureau",
    "区规划和自然资源局": "District Planning and Natural Resources Bureau",
    "区交通委员会": "District Transport Commission",
    "区住房保障和房屋管理局": "District Housing Administration Bureau",
    "区退役军人事务局": "District Veterans Affairs Bureau",
    "区文化和旅游局": "District Culture and Tourism Bureau",
    "区生态环境局": "District Ecology and Environment Bureau",
    "区司法局": "District Justice Bureau",
    "区建设和管理委员会": "District Construction and Management Commission",
    "区商务委员会": "District Commerce Commission",
    "区应急管理局": "District Emergency Management Bureau",
    "区绿化和市容管理局": "District Greenery and City Appearance Bureau",
    "区消防救援支队": "District Fire and Rescue Detachment",
}

FORMS = {
    "原件": "original", "复印件": "photocopy", "原件及复印件": "original and photocopy",
    "电子证照": "e-licence", "电子材料": "electronic file",
}

HOURS = {
    "周一至周六 9:00-17:00": "Mon-Sat 9:00-17:00",
    "周一至周五 9:00-17:00": "Mon-Fri 9:00-17:00",
    "周一至周五 9:00-16:30": "Mon-Fri 9:00-16:30",
}

PLACES = {
    "长宁区行政服务中心": "Changning District Administrative Service Centre",
    "区公安分局出入境接待大厅": "Exit-Entry Hall, District Public Security Bureau",
    "区公安分局交警支队车驾管服务站": "Vehicle and Driver Service Station, Traffic Police",
    "上海市公积金管理中心长宁分中心服务大厅": "Housing Fund Service Hall, Changning Branch",
    "区人力资源和社会保障局服务大厅": "Human Resources and Social Security Service Hall",
    "区医疗保障事务中心": "District Medical Insurance Service Centre",
    "区婚姻登记中心": "District Marriage Registration Centre",
    "区不动产登记事务中心": "District Real Estate Registration Centre",
    "区税务局第一税务所办税服务厅": "Tax Service Hall, First Tax Office",
    "区残疾人联合会服务窗口": "Disabled Persons' Federation Service Counter",
    "区退役军人服务中心": "District Veterans Service Centre",
    "区教育局招生考试服务窗口": "Education Bureau Admissions Counter",
    "区妇幼保健院证明办理窗口": "Maternity and Child Health Hospital Certificates Counter",
    "区公共法律服务中心": "District Public Legal Service Centre",
    "区住房保障事务中心": "District Housing Support Centre",
    "区交通委员会服务窗口": "Transport Commission Service Counter",
    "区卫生健康委员会受理窗口": "Health Commission Service Counter",
    "华阳路街道社区事务受理服务中心": "Huayang Road Community Affairs Service Centre",
    "江苏路街道社区事务受理服务中心": "Jiangsu Road Community Affairs Service Centre",
    "新华路街道社区事务受理服务中心": "Xinhua Road Community Affairs Service Centre",
    "周家桥街道社区事务受理服务中心": "Zhoujiaqiao Community Affairs Service Centre",
    "天山路街道社区事务受理服务中心": "Tianshan Road Community Affairs Service Centre",
    "仙霞新村街道社区事务受理服务中心": "Xianxia Xincun Community Affairs Service Centre",
    "虹桥街道社区事务受理服务中心": "Hongqiao Community Affairs Service Centre",
    "程家桥街道社区事务受理服务中心": "Chengjiaqiao Community Affairs Service Centre",
    "北新泾街道社区事务受理服务中心": "Beixinjing Community Affairs Service Centre",
    "新泾镇社区事务受理服务中心": "Xinjing Town Community Affairs Service Centre",
}

# Road names of the addresses (上海市长宁区<road><number>号).
ROADS = {
    "华阳路": "Huayang Road", "江苏路": "Jiangsu Road", "新华路": "Xinhua Road",
    "仙霞路": "Xianxia Road", "天山路": "Tianshan Road", "古北路": "Gubei Road",
    "哈密路": "Hami Road", "北新泾路": "Beixinjing Road", "天山西路": "Tianshan West Road",
    "延安西路": "Yan'an West Road", "虹桥路": "Hongqiao Road",
}

MATERIALS = {
    "居民身份证": "Resident ID card",
    "居住登记凭证": "Residence registration slip",
    "劳动合同或就读证明": "Labour contract or proof of study",
    "近期免冠证件照片": "Recent ID photo",
    "上海市居住证": "Shanghai Residence Permit",
    "社会保险缴费记录": "Social insurance payment record",
    "学历学位证书": "Diploma and degree certificates",
    "劳动合同": "Labour contract",
    "房屋租赁合同或产权证明": "Tenancy agreement or proof of ownership",
    "原居民身份证": "Current resident ID card",
    "居民户口簿": "Household register",
    "出生医学证明": "Medical birth certificate",
    "父母双方居民身份证": "Both parents' ID cards",
    "结婚证": "Marriage certificate",
    "机动车驾驶证": "Driving licence",
    "身体条件证明": "Health certificate",
    "灵活就业登记证明": "Flexible employment registration",
    "本人银行卡或存折": "Your bank card or passbook",
    "退休审批表": "Retirement approval form",
    "社会保障卡": "Social security card",
    "医疗费用原始票据": "Original medical receipts",
    "费用明细清单": "Itemised bill",
    "病历": "Medical records",
    "异地居住证明": "Proof of residence elsewhere",
    "购房合同": "Home purchase contract",
    "不动产权证书或预告登记证明": "Title certificate or advance registration",
    "首付款发票或收据": "Down payment invoice or receipt",
    "房屋租赁合同网签备案证明": "Tenancy agreement filing record",
    "退休证明": "Proof of retirement",
    "专项附加扣除资料": "Special deduction records",
    "双方居民身份证": "Both partners' ID cards",
    "双方居民户口簿": "Both partners' household registers",
    "近期半身免冠合影照片": "Recent joint photo",
    "夫妻双方居民身份证": "Both spouses' ID cards",
    "儿童居民户口簿": "Child's household register",
    "房地产权证或租赁合同": "Property certificate or tenancy agreement",
    "监护人居民身份证": "Guardian's ID card",
    "残疾评定表": "Disability assessment form",
    "中华人民共和国残疾人证": "Disability certificate",
    "出租人及承租人居民身份证": "Landlord's and tenant's ID cards",
    "不动产权证书": "Real estate title certificate",
    "住房租赁合同": "Housing tenancy agreement",
    "买卖双方居民身份证": "Buyer's and seller's ID cards",
    "存量房买卖合同": "Resale home contract",
    "完税凭证": "Tax payment certificate",
    "权利人居民身份证": "Owner's ID card",
    "遗失声明": "Notice of loss",
    "原不动产权证书": "Damaged title certificate",
    "公司登记申请书": "Company registration form",
    "公司章程": "Articles of association",
    "股东主体资格证明": "Shareholders' proof of identity",
    "法定代表人居民身份证": "Legal representative's ID card",
    "住所使用证明": "Proof of business address",
    "营业执照": "Business licence",
    "办税人员居民身份证": "Tax officer's ID card",
    "变更登记申请书": "Change registration form",
    "股东会决议": "Shareholders' resolution",
    "经营场所平面布局图": "Floor plan of the premises",
    "食品安全管理制度": "Food safety rules",
}

NOTES = {
    "可现场拍摄": "can be taken here",
    "可由指定医院上传": "the designated hospital can upload it",
    "可用身份证照片": "your ID card photo can be used",
    "需为本人名下一类账户": "a Class I account in your name",
    "非本市户籍人员提供": "if not registered in Shanghai",
    "个人承诺即可": "a signed statement is enough",
    "全国通办可免交": "not needed when applying outside your home city",
    "2寸双人红底": "2-inch, both of you, red background",
    "随迁子女提供": "for children who moved with parents",
    "由指定医院出具": "issued by a designated hospital",
    "遗失补证提供": "if the certificate was lost",
    "损坏换证提供": "if the certificate was damaged",
    "用于津贴发放": "the allowance is paid to it",
}

FEES = {
    "不收费": "Free",
    "工本费20元": "Card fee 20 yuan",
    "工本费40元": "Card fee 40 yuan",
    "工本费60元": "Document fee 60 yuan",
    "工本费120元": "Document fee 120 yuan",
    "工本费10元": "Document fee 10 yuan",
    "证书工本费10元": "Certificate fee 10 yuan",
    "不收费（结婚证工本费已取消）": "Free (the certificate fee has been abolished)",
    "登记费80元，证书工本费10元": "Registration fee 80 yuan, certificate fee 10 yuan",
    "首套公章免费": "The first set of seals is free",
}

# Item name → (English name, summary, conditions in the same order as the Chinese).
ITEMS = {
    "居住证申领": ("Apply for a Shanghai Residence Permit",
               "Newcomers who have lived in Shanghai lawfully for 6 months and work or study here "
               "can apply for the Shanghai Residence Permit.",
               ["Residence registered for 6 months",
                "Stable lawful job, home or place of study in Shanghai"]),
    "居住证签注": ("Renew the Residence Permit endorsement",
               "The Shanghai Residence Permit is endorsed once a year while valid, to keep its "
               "public services.",
               ["A valid Shanghai Residence Permit", "Still meets the conditions for the permit"]),
    "居住证积分申请": ("Apply for Residence Permit points",
                 "Permit holders can apply for points by age, education, title and social "
                 "insurance; with enough points their children can sit exams in Shanghai.",
                 ["A valid Shanghai Residence Permit",
                  "6 months of employee social insurance in a row"]),
    "来沪人员居住登记": ("Register residence as a newcomer",
                  "Newcomers register where they live before they have lived there for 30 "
                  "days, and receive a residence registration slip.",
                  ["A lawful home in Shanghai", "Living or planning to live here 30 days or more"]),
    "居民身份证换领": ("Renew your resident ID card",
                 "When your ID card expires or its details change, apply for a new one.",
                 ["The card expires within 3 months or has expired",
                  "Or the registered details have changed"]),
    "居民身份证补领": ("Replace a lost resident ID card",
                 "If your ID card is lost, apply for a new one at a nearby community affairs "
                 "service centre.",
                 ["The ID card is lost or damaged"]),
    "出生登记": ("Register a birth",
             "Within a month of the birth, a guardian registers the newborn in the household "
             "register.",
             ["The baby was born in China", "One parent has Shanghai household registration"]),
    "普通护照首次申领": ("Apply for a first passport",
                  "Mainland residents can apply for a passport for private travel anywhere in "
                  "China; you come in person to give fingerprints.",
                  ["Resident of mainland China", "Not barred from leaving the country by law"]),
    "往来港澳通行证申领": ("Apply for a Hong Kong and Macao travel permit",
                   "Mainland residents travelling to Hong Kong or Macao need the travel permit "
                   "and an endorsement.",
                   ["Resident of mainland China", "Not barred from leaving the country by law"]),
    "机动车驾驶证期满换证": ("Renew an expiring driving licence",
                    "Apply for a new driving licence within 90 days before it expires, anywhere "
                    "in China.",
                    ["Within 90 days before the licence expires", "Fit to drive"]),
    "社保卡申领": ("Apply for a social security card",
              "Anyone in Shanghai's social insurance can apply for the card, used for medical "
              "bills and benefits.",
              ["Insured in Shanghai's social or residents' medical insurance"]),
    "社会保险缴费记录查询": ("Print your social insurance record",
                    "See and print your social insurance payments over the years, for points, "
                    "buying a home or registration.",
                    ["Your own payment record"]),
    "灵活就业人员社会保险登记": ("Register for social insurance as self-employed",
                      "Shanghai residents in flexible employment can register for employee "
                      "social insurance and pay monthly themselves.",
                      ["Shanghai household registration", "Of working age",
                       "No employer pays your social insurance"]),
    "基本养老金申领": ("Apply for your basic pension",
                 "Insured people at the legal retirement age with 15 years of contributions "
                 "can claim a monthly pension.",
                 ["At the legal retirement age",
                  "15 years of employee pension contributions in total"]),
    "城乡居民基本医疗保险参保登记": ("Join the residents' medical insurance",
                        "Shanghai residents without a job, school pupils and eligible "
                        "non-Shanghai residents can join the residents' medical insurance.",
                        ["Not in the employees' medical insurance",
                         "Within the scheme's coverage"]),
    "医疗费用零星报销": ("Claim back medical costs",
                  "If you were treated in an emergency at a non-designated hospital, or could "
                  "not pay by card, claim the costs back.",
                  ["Covered medical costs not settled at the time"]),
    "异地就医备案": ("Register for medical care outside Shanghai",
               "If you live in another province or are treated there for a while, register "
               "first and bills are settled directly.",
               ["Insured in Shanghai", "Living or treated in another province"]),
    "住房公积金提取（购房）": ("Withdraw housing fund to buy a home",
                     "Members buying a home to live in, in Shanghai, can withdraw their own and "
                     "their spouse's housing fund.",
                     ["Buying a home to live in", "Within one year of the purchase",
                      "Down payment made"]),
    "住房公积金提取（租房）": ("Withdraw housing fund to pay rent",
                     "Members who rent and own no home can withdraw housing fund monthly or "
                     "quarterly to pay the rent.",
                     ["You and your spouse own no home in Shanghai", "Renting a home"]),
    "住房公积金提取（离退休）": ("Withdraw housing fund on retirement",
                      "After retiring, members can withdraw the whole balance at once and "
                      "close the account.",
                      ["Retirement completed"]),
    "个人所得税综合所得年度汇算": ("Annual individual income tax return",
                       "From March to June, settle last year's income tax: get a refund or "
                       "pay what is due.",
                       ["Income that needs a refund or more tax paid"]),
    "结婚登记": ("Register a marriage",
             "Mainland residents who both wish to marry register together at a marriage "
             "registry, anywhere in China.",
             ["Man aged 22 or more, woman aged 20 or more", "Neither is married",
              "Not closely related by blood"]),
    "生育登记": ("Register a pregnancy or birth",
             "Shanghai residents register the birth of a child during the pregnancy or after "
             "the birth.",
             ["One spouse has Shanghai registration or a Residence Permit"]),
    "小学入学报名": ("Primary school enrolment",
               "Children of school age are enrolled for primary school through the city's "
               "enrolment system, in the set period.",
               ["Aged 6 by 31 August this year"]),
    "长宁区老年综合津贴申请": ("Apply for the senior citizens' allowance",
                     "Residents of the district aged 65 or more can apply for the allowance, "
                     "paid monthly to the social security card.",
                     ["Shanghai household registration", "Aged 65 or more"]),
    "上海市敬老卡申领": ("Apply for the Shanghai senior card",
                  "Shanghai residents aged 60 or more can apply for the senior card; from 65 "
                  "it also receives the senior citizens' allowance.",
                  ["Shanghai household registration", "Aged 60 or more"]),
    "长期护理保险需求评估申请": ("Apply for a long-term care assessment",
                      "People aged 60 or more in the medical insurance can apply for an "
                      "assessment of their care needs.",
                      ["Aged 60 or more", "In Shanghai's basic medical insurance"]),
    "残疾人证申领": ("Apply for a disability certificate",
               "Shanghai residents assessed as disabled can apply for the national disability "
               "certificate.",
               ["Shanghai household registration",
                "Assessed as disabled by a designated hospital"]),
    "残疾人两项补贴申请": ("Apply for disability living and care allowances",
                   "Disabled people on low incomes can apply for a living allowance; severely "
                   "disabled people for a care allowance.",
                   ["A disability certificate",
                    "A low-income household, or severely disabled"]),
    "住房租赁合同网签备案": ("File a tenancy agreement",
                    "After signing a tenancy agreement, landlord and tenant can file it "
                    "online, for points, school places or housing fund withdrawals.",
                    ["A signed housing tenancy agreement", "Clear ownership of the home"]),
    "不动产登记（存量房转移）": ("Transfer a resale home",
                      "After selling a home, buyer and seller apply together to transfer the "
                      "title.",
                      ["Resale contract signed and filed online", "Taxes and fees paid"]),
    "不动产权证书补换": ("Replace a real estate title certificate",
                  "If a title certificate is lost or damaged, the owner can apply for a new "
                  "one.",
                  ["Loss announced in a newspaper, or the certificate is damaged"]),
    "有限责任公司设立登记": ("Register a limited company",
                    "Set up a limited company with one form on the business start-up portal; "
                    "the licence is issued within 1 working day.",
                    ["Enough shareholders by law", "A name, an address and articles",
                     "Registered capital subscribed"]),
    "公章刻制备案": ("Company seals",
               "New companies can apply for free seals on the start-up portal, made and filed "
               "by a seal maker.",
               ["Holds a business licence"]),
    "新办纳税人发票申领": ("Apply for invoices as a new taxpayer",
                   "New companies that have confirmed their tax details can apply for VAT "
                   "invoices, sent by post or collected.",
                   ["Business licence held and tax details confirmed",
                    "Real-name check done"]),
    "企业变更登记": ("Change company registration",
               "Register a change of name, address, legal representative, capital or other "
               "registered details.",
               ["Registered details have changed", "A decision on the change was made"]),
    "食品经营许可证核发": ("Food business licence",
                   "Businesses that sell food or serve meals need a food business licence.",
                   ["Premises, equipment and rules fit for the food sold",
                    "A food safety manager"]),
}

# Bundle name → (English name, summary). Only bundles whose items all have English.
BUNDLES = {
    "居住证办理一件事": ("Residence Permit, all in one",
                  "For newcomers: residence registration, tenancy filing, the Residence Permit, "
                  "its endorsement and points, planned together with materials reused."),
}


def _address(zh):
    prefix = "上海市长宁区"
    assert zh.startswith(prefix) and zh.endswith("号"), zh
    rest = zh[len(prefix):-1]
    for road in sorted(ROADS, key=len, reverse=True):
        if rest.startswith(road) and rest[len(road):].isdigit():
            return f"{rest[len(road):]} {ROADS[road]}, Changning District, Shanghai"
    raise KeyError(f"no English for the address {zh}")


def _item_english(item):
    name, summary, conditions = ITEMS[item["name"]]
    assert len(conditions) == len(item["conditions"]), item["name"]
    return {
        "name": name,
        "summary": summary,
        "conditions": conditions,
        "materials": [
            {"name": MATERIALS[m["name"]], "form": FORMS[m["form"]],
             "note": None if m["note"] is None else NOTES[m["note"]]}
            for m in item["materials"]
        ],
        "fee": FEES[item["fee"]],
        "locations": [
            {"name": PLACES[loc["name"]], "address": _address(loc["address"]),
             "hours": HOURS[loc["hours"]]}
            for loc in item["locations"]
        ],
    }


def add(cat):
    """Adds the English to `cat` in place: names of themes and departments, and a complete
    block for each item and bundle listed above (a KeyError names any part missing)."""
    assert set(THEMES) == set(cat["themes"]), set(cat["themes"]) ^ set(THEMES)
    assert set(DEPARTMENTS) == {n for n, _ in common.DEPARTMENTS}
    cat["themes_en"] = {t: THEMES[t] for t in cat["themes"]}
    cat["departments_en"] = {d: DEPARTMENTS[d] for d in cat["departments"]}
    by_name = {i["name"]: i for i in cat["items"]}
    unknown = set(ITEMS) - set(by_name)
    assert not unknown, unknown
    for item in cat["items"]:
        if item["name"] in ITEMS:
            item["en"] = _item_english(item)
    by_code = {i["code"]: i for i in cat["items"]}
    for b in cat["bundles"]:
        if b["name"] in BUNDLES:
            missing = [by_code[c]["name"] for c in b["items"] if "en" not in by_code[c]]
            assert not missing, (b["name"], missing)
            name, summary = BUNDLES[b["name"]]
            b["en"] = {"name": name, "summary": summary}
    return cat
