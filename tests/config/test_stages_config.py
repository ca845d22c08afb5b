"""[plans.NAME.stages.STAGE]: each mistake named with its key and the fix."""

from __future__ import annotations

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.time.durations import parse_target
from tests import worlds

BASE = worlds.world(
    worlds.gateway(),
    worlds.UK_CALENDAR,
    worlds.plan(priorities={"P1": {"first_response": "15m", "workaround": "2 business days"}}),
    worlds.SAM,
)


def _stage(**keys: object) -> str:
    return BASE + worlds.table("plans.standard.stages.development", **keys)


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(None, text=text)
    return err.value.problems


def test_a_stage_is_read_with_its_clocks_people_and_cadence() -> None:
    config = load_config(None, text=_stage(title="Product Development", starts=["workaround"],
                                           notify=["role:duty-manager"], inform_every="1 business day"))
    plan = config.policy.plan("standard")
    stage = plan.stages["development"]
    assert (stage.title, stage.starts, stage.notify) == ("Product Development", ("workaround",), ("role:duty-manager",))
    assert stage.inform_every == parse_target("1 business day")
    assert plan.stage_of("workaround") is stage and plan.stage_of("first_response") is None


@pytest.mark.parametrize(("keys", "expected"), [
    ({"starts": ["action-plan"]},
     "plans.standard.stages.development.starts: 'action-plan' is not a clock; the clocks are first_response, "
     "update, workaround, resolution"),
    ({"starts": ["resolution"]},
     "plans.standard.stages.development.starts: 'resolution' has no target at any priority of this plan; give "
     "one in [...priorities.P1] (resolution = ...) or remove it from starts"),
    ({"starts": "workaround"},
     'plans.standard.stages.development.starts: a list of clocks, like ["workaround"]'),
    ({"notify": ["role:executive"]},
     "plans.standard.stages.development.notify: no contact has the role 'executive'; add it to some "
     "[contacts.NAME] roles"),
    ({"notify": ["contact:sam"], "inform_every": "often"},
     "plans.standard.stages.development.inform_every: cannot read"),
    ({"notify": ["contact:sam"], "inform_every": "5 minutes"},
     'plans.standard.stages.development.inform_every: at least 30 minutes, like "1 business day"'),
    ({"notify": ["contact:sam"], "inform_every": "next release"},
     'plans.standard.stages.development.inform_every: a cadence, like "1 business day" or "4 hours"'),
    ({"inform_every": "1 business day"},
     "plans.standard.stages.development.inform_every: nobody to keep informed; add notify"),
    ({"start": ["workaround"]},
     "plans.standard.stages.development.start: unknown key; the keys are title, starts, notify, inform_every"),
])
def test_a_stage_names_its_mistake_with_the_key_and_the_fix(keys: dict[str, object], expected: str) -> None:
    problems = _problems(_stage(**keys))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_clock_starts_at_one_stage_and_a_stage_has_a_plain_name() -> None:
    text = (_stage(starts=["workaround"]) + worlds.table("plans.standard.stages.level-two", starts=["workaround"])
            + worlds.table('plans.standard.stages."Level Two"'))
    problems = _problems(text)
    assert ("plans.standard.stages.level-two.starts: 'workaround' is started by stage 'development' already; "
            "a clock starts at one stage") in problems
    assert any(p.startswith("plans.standard.stages.Level Two: name a stage with lower-case letters") for p in problems)
