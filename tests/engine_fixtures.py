"""A tiny synthetic ESCO-like skill hierarchy shared by the app-free engine tests.

n_occupations = 0 makes every group fully specific, so the credits are the settings' own numbers.
"""
from nlwerktdoor.matching import SkillIndex, SkillInfo

# Two level-3 groups in S1.1 (a1 and a2 share one, a3 is a sibling) and one unrelated group S2.2.2.
BASE_SKILLS = (
    SkillInfo("a1", "S1.1.1", ("S",)),
    SkillInfo("a2", "S1.1.1", ("S",)),
    SkillInfo("a3", "S1.1.2", ("S",)),
    SkillInfo("b1", "S2.2.2", ("S",)),
    SkillInfo("b2", "S2.2.2", ("S",)),
)


def small_index(*extra: SkillInfo, **build_options) -> SkillIndex:
    return SkillIndex.build([*BASE_SKILLS, *extra], **build_options)
