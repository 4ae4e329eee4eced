"""Reference tables for the demo generator: who lives in a Chinese city of 2025, what they are
called, where in Wuhai they live, and how common each key population is.

Figures are rounded public statistics (7th national census 2020, China Statistical Yearbook,
China hypertension/diabetes surveys); street names are Wuhai's, community names are SAMPLE names.
"""

from __future__ import annotations

# --- age and sex -------------------------------------------------------------------------------

# (first age, last age, share of the population in %) — China 2025, roughly: few births since 2017,
# the 1962–1975 boom now 50–63, 65+ about 16 %.
AGE_PYRAMID: list[tuple[int, int, float]] = [
    (0, 4, 3.9),
    (5, 9, 5.4),
    (10, 14, 6.1),
    (15, 19, 5.8),
    (20, 24, 5.2),
    (25, 29, 5.4),
    (30, 34, 7.4),
    (35, 39, 8.1),
    (40, 44, 6.9),
    (45, 49, 6.6),
    (50, 54, 8.2),
    (55, 59, 8.0),
    (60, 64, 6.6),
    (65, 69, 5.6),
    (70, 74, 4.6),
    (75, 79, 3.0),
    (80, 84, 1.8),
    (85, 89, 0.9),
    (90, 99, 0.4),
]


def male_share(age: int) -> float:
    """Boys outnumber girls at birth (sex ratio ~1.11 in these cohorts); women outlive men."""
    if age < 20:
        return 0.53
    if age < 60:
        return 0.51
    if age < 80:
        return 0.48
    return 0.41


# Relative yearly visit rate by age (outpatient use is U-shaped over life).
def visit_rate(age: int) -> float:
    if age <= 4:
        return 1.7
    if age <= 14:
        return 0.8
    if age <= 44:
        return 0.65
    if age <= 59:
        return 1.0
    if age <= 69:
        return 1.6
    return 2.1


# --- key-population prevalences (registry tags; 65+ and 0–6 are derived, never stored) --------


def hypertension_prevalence(age: int) -> float:
    """~25 % of adults overall, rising with age (China Hypertension Survey)."""
    if age < 18:
        return 0.0
    if age < 35:
        return 0.05
    if age < 45:
        return 0.12
    if age < 55:
        return 0.25
    if age < 65:
        return 0.38
    if age < 75:
        return 0.50
    return 0.58


def diabetes_prevalence(age: int) -> float:
    """Type-2 diabetes, ~10 % of adults overall."""
    if age < 18:
        return 0.0
    if age < 35:
        return 0.02
    if age < 45:
        return 0.05
    if age < 55:
        return 0.10
    if age < 65:
        return 0.16
    return 0.20


def disabled_prevalence(age: int) -> float:
    """~6 % overall (2006 disability survey: 6.3 %), rising with age."""
    if age < 18:
        return 0.015
    if age < 60:
        return 0.05
    return 0.13


TUBERCULOSIS_PREVALENCE = 0.0005  # registered active TB, ages 15+
SEVERE_MENTAL_ILLNESS_PREVALENCE = 0.005  # registered, ages 15+
PREGNANT_PREVALENCE = 0.01  # women 20–40
LOW_INCOME_PREVALENCE = 0.03  # 低保/低收入 households

# --- names -------------------------------------------------------------------------------------

# The most common surnames with their rough frequency (per mille); the tail is folded into them.
SURNAMES: list[tuple[str, float]] = [
    ("王", 71), ("李", 70), ("张", 67), ("刘", 54), ("陈", 45), ("杨", 31), ("赵", 22), ("黄", 20),
    ("周", 17), ("吴", 17), ("徐", 14), ("孙", 14), ("马", 14), ("胡", 11), ("朱", 11), ("郭", 12),
    ("何", 9), ("罗", 8), ("高", 10), ("林", 7), ("郑", 7), ("梁", 7), ("谢", 6), ("宋", 6),
    ("唐", 6), ("许", 5), ("韩", 6), ("冯", 5), ("邓", 5), ("曹", 5), ("彭", 4), ("曾", 4),
    ("肖", 4), ("田", 5), ("董", 5), ("袁", 4), ("潘", 4), ("于", 5), ("蒋", 4), ("蔡", 4),
    ("余", 3), ("杜", 4), ("叶", 3), ("程", 3), ("苏", 4), ("魏", 4), ("吕", 4), ("丁", 3),
    ("任", 4), ("沈", 3), ("姚", 3), ("卢", 3), ("姜", 3), ("崔", 3), ("钟", 2), ("谭", 2),
    ("陆", 2), ("汪", 2), ("范", 3), ("金", 2), ("石", 3), ("廖", 2), ("贾", 4), ("夏", 2),
    ("付", 3), ("方", 2), ("白", 4), ("邹", 2), ("孟", 3), ("熊", 2), ("秦", 3), ("邱", 2),
    ("江", 2), ("尹", 2), ("薛", 3), ("闫", 4), ("段", 2), ("雷", 2), ("侯", 3), ("龙", 1),
    ("史", 3), ("陶", 1), ("贺", 3), ("顾", 1), ("毛", 2), ("郝", 4), ("龚", 1), ("邵", 2),
    ("万", 1), ("钱", 1), ("严", 1), ("武", 3), ("戴", 1), ("孔", 1), ("康", 2), ("乔", 3),
    ("霍", 2), ("樊", 2), ("安", 2), ("常", 2), ("牛", 2), ("包", 2), ("奇", 1), ("云", 1),
]  # fmt: skip

MALE_GIVEN = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林洋阳峰建文国东海亮志博晨然"
    "子轩泽睿铭昊天瑞嘉成立新永兵春生福荣德胜利彬毅晓"
)
FEMALE_GIVEN = (
    "芳娜敏静丽艳娟霞秀玲燕红英梅琳雪婷颖慧莉倩洁晶丹萍佳欣怡雨涵梓萱诗琪悦思彤馨瑶妍可一桐"
    "淑桂兰凤珍琴云华翠玉春晓月"
)
# Wuhai has a Mongol minority; many Mongol names are a single given name of 2–4 characters.
MONGOL_NAMES_MALE = [
    "巴特尔",
    "额尔敦",
    "苏和",
    "宝音",
    "阿拉坦",
    "朝鲁",
    "巴图",
    "那顺",
    "孟和",
    "达来",
]
MONGOL_NAMES_FEMALE = [
    "其其格",
    "乌日娜",
    "斯琴",
    "格日勒",
    "图雅",
    "娜仁",
    "萨仁",
    "高娃",
    "塔娜",
    "乌兰",
]
MONGOL_SHARE = 0.04

PHONE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "147", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "173", "176", "177", "180", "181",
    "182", "183", "185", "186", "187", "188", "189", "191", "198", "199",
]  # fmt: skip

# --- where people live and were born ----------------------------------------------------------

# Wuhai's districts: (district value, name, region code since 1983). Before 1983 the city had a
# single code (150300), and python-stdnum checks the code against the birth year.
DISTRICT_NAMES = {"haibowan": "海勃湾区", "wuda": "乌达区", "hainan": "海南区"}
DISTRICT_REGION_CODES = {"haibowan": "150302", "wuda": "150304", "hainan": "150303"}
CITY_REGION_CODE = "150300"
DISTRICT_REGION_CODES_FROM_YEAR = 1983

# Residents born elsewhere (~16 % of a mining city's population came from the region around it):
# other Inner Mongolia, Ningxia and Shaanxi codes; each is used only for birth years stdnum accepts.
MIGRANT_SHARE = 0.16
MIGRANT_REGION_CODES = [
    "150121",  # 土默特左旗
    "150102",  # 呼和浩特 新城区
    "150203",  # 包头 昆都仑区
    "150802",  # 巴彦淖尔 临河区
    "152921",  # 阿拉善左旗
    "152922",  # 阿拉善右旗
    "150621",  # 达拉特旗
    "640221",  # 平罗县
    "640122",  # 贺兰县
    "640202",  # 石嘴山 大武口区
    "640104",  # 银川 兴庆区
    "610323",  # 岐山县
    "610324",  # 扶风县
    "610802",  # 榆林 榆阳区
    "612722",  # 神木县 (before 2000)
    "610122",  # 蓝田县
]

# Real street/town names of each district (街道/镇); community names are SAMPLE names.
STREETS: dict[str, list[str]] = {
    "haibowan": [
        "新华街道", "新华西街道", "凤凰岭街道", "海北街道", "滨河街道", "林荫街道", "千钢街道",
        "千里山镇",
    ],
    "wuda": ["三道坎街道", "五虎山街道", "苏海图街道", "梁家沟街道", "滨海街道", "新达街道"],
    "hainan": ["拉僧庙镇", "巴音陶亥镇", "公乌素镇", "西卓子山街道"],
}  # fmt: skip
COMMUNITY_WORDS = [
    "团结", "友谊", "和平", "幸福", "阳光", "康乐", "振兴", "欣华", "金裕", "滨湖", "海达", "公园",
    "新星", "安泰", "桃源", "青山", "东升", "育才", "光明", "兴业", "永安", "富民", "胜利", "民主",
    "建设", "联合", "长青", "明珠", "春晖", "祥和", "丰泽", "碧水",
]  # fmt: skip
COMMUNITIES_PER_STREET = 4

# Wuhai's districts' approximate population (as in data/wuhai.yaml), used when no network data
# file states it.
DEFAULT_DISTRICT_POPULATION = {"haibowan": 300_000, "wuda": 140_000, "hainan": 120_000}
