"""Demo data: a mid-sized cardiovascular and IVD maker (acme) and a second maker
(globex), with regions, dealers, hospitals and products that look like the real thing."""

PASSWORD = "MedChannel-demo-1"

# (code, name, name_en, provinces [(code, name, name_en, [(city code, city, city_en)])])
REGIONS = [
    ("JJJ", "京津冀", "Beijing-Tianjin-Hebei", [
        ("BJ", "北京", "Beijing", [("BJ-C", "北京市", "Beijing City")]),
        ("TJ", "天津", "Tianjin", [("TJ-C", "天津市", "Tianjin City")]),
        ("HE", "河北", "Hebei", [("HE-SJZ", "石家庄", "Shijiazhuang")]),
    ]),
    ("EAST", "华东", "East China", [
        ("SH", "上海", "Shanghai", [("SH-C", "上海市", "Shanghai City")]),
        ("JS", "江苏", "Jiangsu", [("JS-NJ", "南京", "Nanjing"), ("JS-SZ", "苏州", "Suzhou")]),
        ("ZJ", "浙江", "Zhejiang", [("ZJ-HZ", "杭州", "Hangzhou"), ("ZJ-NB", "宁波", "Ningbo")]),
        ("SD", "山东", "Shandong", [("SD-JN", "济南", "Jinan"), ("SD-QD", "青岛", "Qingdao")]),
        ("AH", "安徽", "Anhui", [("AH-HF", "合肥", "Hefei")]),
    ]),
    ("SOUTH", "华南", "South China", [
        ("GD", "广东", "Guangdong", [("GD-GZ", "广州", "Guangzhou"), ("GD-SZ", "深圳", "Shenzhen")]),
        ("GX", "广西", "Guangxi", [("GX-NN", "南宁", "Nanning")]),
        ("FJ", "福建", "Fujian", [("FJ-FZ", "福州", "Fuzhou"), ("FJ-XM", "厦门", "Xiamen")]),
    ]),
    ("CENTRAL", "华中", "Central China", [
        ("HB", "湖北", "Hubei", [("HB-WH", "武汉", "Wuhan")]),
        ("HN", "湖南", "Hunan", [("HN-CS", "长沙", "Changsha")]),
        ("HA", "河南", "Henan", [("HA-ZZ", "郑州", "Zhengzhou")]),
    ]),
    ("SW", "西南", "Southwest China", [
        ("SC", "四川", "Sichuan", [("SC-CD", "成都", "Chengdu")]),
        ("CQ", "重庆", "Chongqing", [("CQ-C", "重庆市", "Chongqing City")]),
        ("YN", "云南", "Yunnan", [("YN-KM", "昆明", "Kunming")]),
    ]),
    ("NE", "东北", "Northeast China", [
        ("LN", "辽宁", "Liaoning", [("LN-SY", "沈阳", "Shenyang"), ("LN-DL", "大连", "Dalian")]),
        ("JL", "吉林", "Jilin", [("JL-CC", "长春", "Changchun")]),
        ("HL", "黑龙江", "Heilongjiang", [("HL-HRB", "哈尔滨", "Harbin")]),
    ]),
    ("NW", "西北", "Northwest China", [
        ("SN", "陕西", "Shaanxi", [("SN-XA", "西安", "Xi'an")]),
        ("GS", "甘肃", "Gansu", [("GS-LZ", "兰州", "Lanzhou")]),
    ]),
]

# (code, name, grade, city code, city)
HOSPITALS = [
    ("H-BJ-001", "北京协和医院", "三级甲等", "BJ-C", "北京"),
    ("H-BJ-002", "首都医科大学附属北京安贞医院", "三级甲等", "BJ-C", "北京"),
    ("H-BJ-003", "中国医学科学院阜外医院", "三级甲等", "BJ-C", "北京"),
    ("H-BJ-004", "北京大学第一医院", "三级甲等", "BJ-C", "北京"),
    ("H-TJ-001", "天津医科大学总医院", "三级甲等", "TJ-C", "天津"),
    ("H-TJ-002", "天津市胸科医院", "三级甲等", "TJ-C", "天津"),
    ("H-HE-001", "河北医科大学第二医院", "三级甲等", "HE-SJZ", "石家庄"),
    ("H-SH-001", "复旦大学附属中山医院", "三级甲等", "SH-C", "上海"),
    ("H-SH-002", "上海交通大学医学院附属瑞金医院", "三级甲等", "SH-C", "上海"),
    ("H-SH-003", "上海市第六人民医院", "三级甲等", "SH-C", "上海"),
    ("H-JS-001", "江苏省人民医院", "三级甲等", "JS-NJ", "南京"),
    ("H-JS-002", "苏州大学附属第一医院", "三级甲等", "JS-SZ", "苏州"),
    ("H-JS-003", "南京市第一医院", "三级甲等", "JS-NJ", "南京"),
    ("H-ZJ-001", "浙江大学医学院附属第一医院", "三级甲等", "ZJ-HZ", "杭州"),
    ("H-ZJ-002", "浙江省人民医院", "三级甲等", "ZJ-HZ", "杭州"),
    ("H-ZJ-003", "宁波市第一医院", "三级甲等", "ZJ-NB", "宁波"),
    ("H-SD-001", "山东省立医院", "三级甲等", "SD-JN", "济南"),
    ("H-SD-002", "青岛大学附属医院", "三级甲等", "SD-QD", "青岛"),
    ("H-AH-001", "中国科学技术大学附属第一医院（安徽省立医院）", "三级甲等", "AH-HF", "合肥"),
    ("H-GD-001", "中山大学附属第一医院", "三级甲等", "GD-GZ", "广州"),
    ("H-GD-002", "广东省人民医院", "三级甲等", "GD-GZ", "广州"),
    ("H-GD-003", "南方医科大学南方医院", "三级甲等", "GD-GZ", "广州"),
    ("H-GD-004", "深圳市人民医院", "三级甲等", "GD-SZ", "深圳"),
    ("H-GD-005", "深圳市宝安区人民医院", "三级乙等", "GD-SZ", "深圳"),
    ("H-GX-001", "广西医科大学第一附属医院", "三级甲等", "GX-NN", "南宁"),
    ("H-FJ-001", "福建医科大学附属协和医院", "三级甲等", "FJ-FZ", "福州"),
    ("H-FJ-002", "厦门大学附属心血管病医院", "三级甲等", "FJ-XM", "厦门"),
    ("H-HB-001", "华中科技大学同济医学院附属协和医院", "三级甲等", "HB-WH", "武汉"),
    ("H-HB-002", "武汉亚洲心脏病医院", "三级甲等", "HB-WH", "武汉"),
    ("H-HN-001", "中南大学湘雅医院", "三级甲等", "HN-CS", "长沙"),
    ("H-HA-001", "郑州大学第一附属医院", "三级甲等", "HA-ZZ", "郑州"),
    ("H-HA-002", "河南省胸科医院", "三级甲等", "HA-ZZ", "郑州"),
    ("H-SC-001", "四川大学华西医院", "三级甲等", "SC-CD", "成都"),
    ("H-SC-002", "四川省人民医院", "三级甲等", "SC-CD", "成都"),
    ("H-CQ-001", "重庆医科大学附属第一医院", "三级甲等", "CQ-C", "重庆"),
    ("H-YN-001", "云南省阜外心血管病医院", "三级甲等", "YN-KM", "昆明"),
    ("H-LN-001", "中国医科大学附属第一医院", "三级甲等", "LN-SY", "沈阳"),
    ("H-LN-002", "大连医科大学附属第一医院", "三级甲等", "LN-DL", "大连"),
    ("H-JL-001", "吉林大学第一医院", "三级甲等", "JL-CC", "长春"),
    ("H-HL-001", "哈尔滨医科大学附属第一医院", "三级甲等", "HL-HRB", "哈尔滨"),
    ("H-SN-001", "西安交通大学第一附属医院", "三级甲等", "SN-XA", "西安"),
    ("H-GS-001", "兰州大学第一医院", "三级甲等", "GS-LZ", "兰州"),
    ("H-JS-004", "昆山市第一人民医院", "二级甲等", "JS-SZ", "苏州"),
    ("H-ZJ-004", "杭州市西溪医院", "二级甲等", "ZJ-HZ", "杭州"),
]

TENANTS = {
    "acme": {
        "name": "艾科医疗科技（苏州）有限公司",
        "product_lines": [
            ("CV", "心血管介入", "Cardiovascular intervention"),
            ("SH", "结构性心脏病", "Structural heart"),
            ("IVD", "体外诊断", "In-vitro diagnostics"),
        ],
        # (code, name, specification, unit, product line)
        "skus": [
            ("CV-DES-2518", "药物洗脱冠脉支架系统", "Ø2.5 mm × 18 mm", "套", "CV"),
            ("CV-DES-2523", "药物洗脱冠脉支架系统", "Ø2.5 mm × 23 mm", "套", "CV"),
            ("CV-DES-3018", "药物洗脱冠脉支架系统", "Ø3.0 mm × 18 mm", "套", "CV"),
            ("CV-DES-3028", "药物洗脱冠脉支架系统", "Ø3.0 mm × 28 mm", "套", "CV"),
            ("CV-DES-3533", "药物洗脱冠脉支架系统", "Ø3.5 mm × 33 mm", "套", "CV"),
            ("CV-PTCA-2015", "PTCA球囊扩张导管", "Ø2.0 mm × 15 mm", "根", "CV"),
            ("CV-PTCA-2520", "PTCA球囊扩张导管", "Ø2.5 mm × 20 mm", "根", "CV"),
            ("CV-NC-3012", "非顺应性球囊扩张导管", "Ø3.0 mm × 12 mm", "根", "CV"),
            ("CV-DCB-3020", "紫杉醇药物涂层球囊导管", "Ø3.0 mm × 20 mm", "根", "CV"),
            ("CV-GW-0141", "冠脉导引导丝", "0.014 in × 190 cm", "根", "CV"),
            ("CV-GC-6JL4", "导引导管", "6F JL4.0", "根", "CV"),
            ("CV-SH-6F", "血管鞘组", "6F × 11 cm", "套", "CV"),
            ("CV-INF-30", "球囊扩张压力泵", "30 atm", "个", "CV"),
            ("SH-TAVR-23", "经导管主动脉瓣膜系统", "23 mm", "套", "SH"),
            ("SH-TAVR-26", "经导管主动脉瓣膜系统", "26 mm", "套", "SH"),
            ("SH-TAVR-29", "经导管主动脉瓣膜系统", "29 mm", "套", "SH"),
            ("SH-LAAO-27", "左心耳封堵器系统", "27 mm", "套", "SH"),
            ("SH-ASD-20", "房间隔缺损封堵器", "20 mm", "个", "SH"),
            ("IVD-CLIA-01", "全自动化学发光免疫分析仪", "MC-CL2000", "台", "IVD"),
            ("IVD-HSTNI-100", "高敏心肌肌钙蛋白I测定试剂盒（化学发光法）", "100人份/盒", "盒", "IVD"),
            ("IVD-NTPRO-100", "N末端B型钠尿肽前体测定试剂盒（化学发光法）", "100人份/盒", "盒", "IVD"),
            ("IVD-DD-100", "D-二聚体测定试剂盒（免疫比浊法）", "100人份/盒", "盒", "IVD"),
            ("IVD-CKMB-100", "肌酸激酶同工酶测定试剂盒（化学发光法）", "100人份/盒", "盒", "IVD"),
            ("IVD-MYO-100", "肌红蛋白测定试剂盒（化学发光法）", "100人份/盒", "盒", "IVD"),
            ("IVD-CAL-01", "心肌标志物复合校准品", "6×1 mL", "盒", "IVD"),
            ("IVD-QC-01", "心肌标志物质控品", "2水平×3 mL", "盒", "IVD"),
            ("IVD-POCT-01", "干式荧光免疫分析仪", "MC-F100", "台", "IVD"),
            ("IVD-CRP-25", "超敏C反应蛋白测定试剂盒（荧光免疫层析法）", "25人份/盒", "盒", "IVD"),
        ],
        # (code, name, tier, province/city code, contact, phone)
        "dealers": [
            ("D-BJ-001", "北京康泰医疗器械有限公司", "agent", "BJ", "王建国", "010-6552 1180"),
            ("D-BJ-002", "北京华瑞通医疗科技有限公司", "tier1", "BJ", "刘洋", "010-8457 2231"),
            ("D-TJ-001", "天津瑞德医疗器械销售有限公司", "tier1", "TJ", "赵磊", "022-2831 6620"),
            ("D-HE-001", "河北济康医疗器械有限公司", "tier2", "HE", "孙丽", "0311-8602 3317"),
            ("D-SH-001", "华东医疗器械有限公司", "agent", "SH", "陈志强", "021-6432 8810"),
            ("D-SH-002", "上海联拓医疗器械有限公司", "tier1", "SH", "周敏", "021-5489 1122"),
            ("D-JS-001", "江苏恒康医疗供应链有限公司", "tier1", "JS", "吴昊", "025-8471 6650"),
            ("D-JS-002", "苏州德尔医疗科技有限公司", "tier2", "JS", "徐静", "0512-6781 2390"),
            ("D-ZJ-001", "浙江瑞华医疗器械有限公司", "tier1", "ZJ", "郑伟", "0571-8702 5561"),
            ("D-SD-001", "山东鲁康医疗器械有限公司", "tier1", "SD", "马强", "0531-8893 4472"),
            ("D-AH-001", "安徽皖宁医疗器械有限公司", "tier2", "AH", "朱婷", "0551-6527 3308"),
            ("D-GD-001", "广州百仕达医疗器械有限公司", "agent", "GD", "黄俊", "020-8732 6618"),
            ("D-GD-002", "深圳安宁医疗科技有限公司", "tier1", "GD", "林晓", "0755-8326 9902"),
            ("D-FJ-001", "福建闽康医疗器械有限公司", "tier1", "FJ", "何斌", "0591-8761 2245"),
            ("D-HB-001", "湖北楚康医疗器械有限公司", "tier1", "HB", "胡军", "027-8571 3326"),
            ("D-HN-001", "湖南湘源医疗器械有限公司", "tier2", "HN", "罗娟", "0731-8451 2270"),
            ("D-SC-001", "成都蓉康医疗器械有限公司", "agent", "SC", "杨帆", "028-8554 7781"),
            ("D-CQ-001", "重庆渝瑞医疗器械有限公司", "tier1", "CQ", "冯刚", "023-6378 4412"),
            ("D-LN-001", "辽宁盛京医疗器械有限公司", "tier1", "LN", "邓涛", "024-2351 8809"),
            ("D-SN-001", "陕西秦川医疗器械有限公司", "tier1", "SN", "曹阳", "029-8832 6617"),
        ],
        "dealer_users": [("dealer1", "D-SH-001", "陈志强", ["dealer_owner"]), ("dealer2", "D-GD-001", "黄俊", ["dealer_owner"]),
                         ("dealer1.sales", "D-SH-001", "李娜", ["dealer_sales"])],
        "hospital_users": [("hospital1", "H-SH-001", "张医工", ["equipment"]), ("hospital2", "H-BJ-002", "高采购", ["purchasing"])],
    },
    "globex": {
        "name": "格洛贝斯生物医学（深圳）有限公司",
        "product_lines": [
            ("IVD", "体外诊断", "In-vitro diagnostics"),
            ("POCT", "即时检验", "Point-of-care testing"),
        ],
        "skus": [
            ("GX-CLIA-800", "全自动化学发光测定仪", "GX-800", "台", "IVD"),
            ("GX-TSH-100", "促甲状腺激素测定试剂盒（化学发光法）", "100人份/盒", "盒", "IVD"),
            ("GX-FT4-100", "游离甲状腺素测定试剂盒（化学发光法）", "100人份/盒", "盒", "IVD"),
            ("GX-PCT-50", "降钙素原测定试剂盒（化学发光法）", "50人份/盒", "盒", "IVD"),
            ("GX-IL6-50", "白细胞介素6测定试剂盒（化学发光法）", "50人份/盒", "盒", "IVD"),
            ("GX-POCT-10", "荧光免疫定量分析仪", "GX-Q10", "台", "POCT"),
            ("GX-HBA1C-25", "糖化血红蛋白测定试剂盒（荧光免疫层析法）", "25人份/盒", "盒", "POCT"),
            ("GX-CRP-25", "C反应蛋白测定试剂盒（荧光免疫层析法）", "25人份/盒", "盒", "POCT"),
        ],
        "dealers": [
            ("G-GD-001", "广东粤新医疗器械有限公司", "agent", "GD", "邱明", "020-3829 1176"),
            ("G-SH-001", "上海申达医疗器械有限公司", "tier1", "SH", "蒋丽", "021-6215 3304"),
            ("G-BJ-001", "北京京诚医疗器械有限公司", "tier1", "BJ", "韩涛", "010-8821 3375"),
            ("G-SC-001", "四川天府医疗器械有限公司", "tier1", "SC", "唐勇", "028-8661 2253"),
        ],
        "dealer_users": [("dealer1", "G-GD-001", "邱明", ["dealer_owner"]), ("dealer2", "G-SH-001", "蒋丽", ["dealer_owner"])],
        "hospital_users": [("hospital1", "H-GD-004", "钟工程师", ["clinical_engineer"]), ("hospital2", "H-SC-001", "谢主任", ["equipment"])],
    },
}

# (local part, name, roles, regions)
MANUFACTURER_USERS = [
    ("admin", "系统管理员", ["admin"], []),
    ("channel", "渠道经理 周婷", ["channel_manager"], []),
    ("channel2", "渠道经理 王磊", ["channel_manager"], []),
    ("sales.east", "华东区域经理 沈浩", ["regional_manager"], ["EAST"]),
    ("sales.south", "华南区域经理 梁宇", ["regional_manager"], ["SOUTH"]),
    ("finance", "财务 许文静", ["finance"], []),
    ("qa", "质量法规 韩雪", ["qa_ra"], []),
    ("service", "售后 钱斌", ["after_sales"], []),
]

# kind -> steps: (name, role, same region, condition figure, operator, value, SLA hours)
CHAINS = {
    "price_request": [
        ("区域经理审核", "regional_manager", True, None, None, None, 24),
        ("渠道经理审核（折让超过 15%）", "channel_manager", False, "discount_pct", "gt", "15", 48),
        ("财务审核（金额超过 50 万元）", "finance", False, "amount", "gt", "500000", 48),
    ],
    "dealer_review": [
        ("质量法规首营审核", "qa_ra", False, None, None, None, 72),
        ("渠道经理确认", "channel_manager", False, None, None, None, 48),
    ],
    "return_request": [
        ("售后审核", "after_sales", False, None, None, None, 24),
        ("财务审核（金额超过 10 万元）", "finance", False, "amount", "gt", "100000", 48),
    ],
    "order_over_credit": [
        ("财务审核", "finance", False, None, None, None, 8),
        ("渠道经理审核（超出 20 万元）", "channel_manager", False, "over_limit", "gt", "200000", 24),
    ],
}
