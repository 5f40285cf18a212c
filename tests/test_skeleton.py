import pytest

from tfpose3d import skeleton


def test_joint_order_is_human36m_17():
    assert skeleton.JOINT_NAMES[:4] == ("pelvis", "r_hip", "r_knee", "r_ankle")
    assert skeleton.JOINT_NAMES[10] == "head" and skeleton.JOINT_NAMES[16] == "r_wrist"
    assert skeleton.NUM_JOINTS == 17


def test_parents_form_a_tree_rooted_at_pelvis():
    for j, p in enumerate(skeleton.PARENTS):
        seen = set()
        while p != -1:
            assert p not in seen
            seen.add(p)
            p = skeleton.PARENTS[p]
        assert j == 0 or 0 in seen


def test_left_right_pairs_name_matching_sides():
    for left, right in skeleton.LEFT_RIGHT_PAIRS:
        l, r = skeleton.JOINT_NAMES[left], skeleton.JOINT_NAMES[right]
        assert l.startswith("l_") and r.startswith("r_") and l[2:] == r[2:]
    perm = skeleton.flip_permutation()
    assert [perm[p] for p in perm] == list(range(17))
    assert perm[skeleton.JOINT_INDEX["l_wrist"]] == skeleton.JOINT_INDEX["r_wrist"]


def test_every_joint_is_a_default_root_or_its_neighbour():
    roots = skeleton.root_indices(skeleton.DEFAULT_ROOTS)
    assert len(roots) == 6 and roots[0] == skeleton.PELVIS
    for j in range(17):
        assert j in roots or skeleton.neighbours(j) & set(roots), skeleton.JOINT_NAMES[j]


def test_neighbours_by_hand():
    assert skeleton.neighbours(skeleton.JOINT_INDEX["thorax"]) == {7, 9, 11, 14}


@pytest.mark.parametrize("roots, message", [(("pelvis", "nose"), "nose"), (("neck", "neck"), "distinct"), ((), "At least")])
def test_bad_roots_are_named(roots, message):
    with pytest.raises(ValueError, match=message):
        skeleton.root_indices(roots)
