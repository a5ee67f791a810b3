//! Policies evaluated frame by frame: hysteresis, rates, new communities, low confidence,
//! unchanged runs, stale frames, and the state surviving a restart.

use tessera_policy::{
    ActionSpec, Condition, Evaluation, Observation, Policy, Proposer, RunState, Target, evaluate,
};
use tessera_protocol::{Action, Fired, Roi, RoiGoal};

/// Proposes a fixed region, or none.
struct Stub(bool);

impl Proposer for Stub {
    fn propose(&self, goal: RoiGoal, _target: Option<&Target>, magnification: f64) -> Option<Roi> {
        self.0.then(|| Roi {
            goal,
            x: 1,
            y: 2,
            width: 3,
            height: 4,
            nm: None,
            magnification,
            score: 0.5,
            reason: "stub".into(),
        })
    }
}

/// A frame, by its parts.
#[derive(Clone, Default)]
struct F {
    seq: u64,
    dose: Option<f64>,
    communities: Vec<(u32, f64)>,
    classes: Option<Vec<(String, f64)>>,
    confidence: Option<Vec<f32>>,
}

impl F {
    fn new(seq: u64) -> F {
        F {
            seq,
            ..F::default()
        }
    }
    fn dose(mut self, d: f64) -> F {
        self.dose = Some(d);
        self
    }
    fn community(mut self, id: u32, f: f64) -> F {
        self.communities.push((id, f));
        self
    }
    fn class(mut self, name: &str, f: f64) -> F {
        self.classes
            .get_or_insert_with(Vec::new)
            .push((name.into(), f));
        self
    }
    fn confidence(mut self, c: Vec<f32>) -> F {
        self.confidence = Some(c);
        self
    }
}

/// Evaluates one frame; the fired rules and the notes.
fn run(policy: &Policy, state: &mut RunState, f: &F) -> (Vec<Fired>, Vec<String>) {
    run_with(policy, state, f, &Stub(true))
}

fn run_with(
    policy: &Policy,
    state: &mut RunState,
    f: &F,
    proposer: &dyn Proposer,
) -> (Vec<Fired>, Vec<String>) {
    let obs = Observation {
        seq: f.seq,
        dose: f.dose,
        communities: &f.communities,
        classes: f.classes.as_deref(),
        chip_confidence: f.confidence.as_deref(),
    };
    match evaluate(policy, state, &obs, proposer) {
        Evaluation::Done { fired, notes } => (fired, notes),
        Evaluation::Stale { last } => panic!("frame {} stale after {last}", f.seq),
    }
}

fn names(fired: &[Fired]) -> Vec<&str> {
    fired.iter().map(|f| f.rule.as_str()).collect()
}

const HALF: &str = r#"
[[rule]]
name = "half"
when = "threshold"
class = "disordered"
above = 0.5
frames = 2
release = 0.45
action = "stop"
"#;

#[test]
fn a_threshold_fires_on_its_second_frame_once_and_re_arms_after_release() {
    let policy = Policy::parse(HALF, "half.toml").unwrap();
    assert!(policy.needs_classes());
    let mut state = RunState::default();
    let d = |seq, f| F::new(seq).class("disordered", f);

    assert!(run(&policy, &mut state, &d(0, 0.3)).0.is_empty());
    assert!(
        run(&policy, &mut state, &d(1, 0.6)).0.is_empty(),
        "not on the first frame above"
    );
    let (fired, _) = run(&policy, &mut state, &d(2, 0.62));
    assert_eq!(
        fired,
        vec![Fired {
            rule: "half".into(),
            action: Action::Stop,
            reason: "class disordered at 0.62 > 0.5 for 2 frames".into(),
        }]
    );
    assert!(state.is_latched("half"));
    // Latched: still above, and between threshold and release: nothing.
    for (seq, f) in [(3, 0.7), (4, 0.8), (5, 0.48), (6, 0.6), (7, 0.6)] {
        assert!(
            run(&policy, &mut state, &d(seq, f)).0.is_empty(),
            "frame {seq}"
        );
    }
    // Back below the release: re-armed; two more frames above fire again.
    assert!(run(&policy, &mut state, &d(8, 0.4)).0.is_empty());
    assert!(!state.is_latched("half"));
    assert!(run(&policy, &mut state, &d(9, 0.55)).0.is_empty());
    assert_eq!(names(&run(&policy, &mut state, &d(10, 0.55)).0), ["half"]);
}

#[test]
fn a_broken_streak_starts_again() {
    let policy = Policy::parse(HALF, "half.toml").unwrap();
    let mut state = RunState::default();
    let d = |seq, f| F::new(seq).class("disordered", f);
    assert!(run(&policy, &mut state, &d(0, 0.6)).0.is_empty());
    assert!(run(&policy, &mut state, &d(1, 0.4)).0.is_empty());
    assert!(run(&policy, &mut state, &d(2, 0.6)).0.is_empty());
    assert_eq!(state.streak("half"), 1);
    assert_eq!(names(&run(&policy, &mut state, &d(3, 0.6)).0), ["half"]);
}

#[test]
fn a_frame_without_classes_neither_advances_nor_resets_a_class_rule() {
    let policy = Policy::parse(HALF, "half.toml").unwrap();
    let mut state = RunState::default();
    assert!(
        run(&policy, &mut state, &F::new(0).class("disordered", 0.6))
            .0
            .is_empty()
    );
    let (fired, notes) = run(&policy, &mut state, &F::new(1).community(0, 1.0));
    assert!(fired.is_empty());
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("rule \"half\": frame 1 has no classes"),
        "{notes:?}"
    );
    assert_eq!(state.streak("half"), 1);
    // A gap in seq is fine: counters count evaluated frames.
    let (fired, _) = run(&policy, &mut state, &F::new(5).class("disordered", 0.6));
    assert_eq!(names(&fired), ["half"]);
    // A frame with classes but without this one counts it as 0.
    let (fired, notes) = run(&policy, &mut state, &F::new(6).class("ordered", 1.0));
    assert!(fired.is_empty() && notes.is_empty());
    assert!(!state.is_latched("half"), "0 is below the release");
}

#[test]
fn below_thresholds_and_absent_communities() {
    let text = r#"
[[rule]]
name = "gone"
when = "threshold"
community = 3
below = 0.1
action = { do = "notify", message = "community 3 is nearly gone" }
"#;
    let policy = Policy::parse(text, "p").unwrap();
    assert!(!policy.needs_classes());
    let mut state = RunState::default();
    assert!(
        run(&policy, &mut state, &F::new(0).community(3, 0.5))
            .0
            .is_empty()
    );
    // Absent counts as 0.
    let (fired, _) = run(&policy, &mut state, &F::new(1).community(1, 1.0));
    assert_eq!(
        fired[0].action,
        Action::Notify {
            message: "community 3 is nearly gone".into()
        }
    );
    assert_eq!(fired[0].reason, "community 3 at 0 < 0.1 for 1 frame");
}

const GROWTH: &str = r#"
[[rule]]
name = "fast growth"
when = "rate"
community = 2
above = 0.002
action = { do = "notify", message = "disorder grows fast" }
"#;

#[test]
fn a_rate_is_a_least_squares_slope_over_the_last_dosed_frames() {
    let policy = Policy::parse(GROWTH, "p").unwrap();
    let mut state = RunState::default();
    let c = |seq, dose, f| F::new(seq).dose(dose).community(2, f);
    // 0.001 per unit dose: below.
    assert!(run(&policy, &mut state, &c(0, 0.0, 0.10)).0.is_empty());
    assert!(run(&policy, &mut state, &c(1, 10.0, 0.11)).0.is_empty());
    assert!(run(&policy, &mut state, &c(2, 20.0, 0.12)).0.is_empty());
    assert!(!state.is_latched("fast growth"));
    // A frame without a dose: noted, and skipped by the window.
    let (fired, notes) = run(&policy, &mut state, &F::new(3).community(2, 0.9));
    assert!(fired.is_empty());
    assert!(notes[0].contains("frame 3 carries no dose"), "{notes:?}");
    // Doses 10, 20, 30 with 0.11, 0.12, 0.2: slope (0.2 - 0.11) / 20 = 0.0045.
    let (fired, _) = run(&policy, &mut state, &c(4, 30.0, 0.20));
    assert_eq!(names(&fired), ["fast growth"]);
    assert_eq!(
        fired[0].reason,
        "community 2 grows 0.0045 per unit dose > 0.002 (last 3 frames)"
    );
    // Latched while the slope stays above the release (= the threshold).
    assert!(run(&policy, &mut state, &c(5, 40.0, 0.30)).0.is_empty());
    // Flat: re-armed, then growing again fires again.
    assert!(run(&policy, &mut state, &c(6, 50.0, 0.30)).0.is_empty());
    assert!(run(&policy, &mut state, &c(7, 60.0, 0.30)).0.is_empty());
    assert!(!state.is_latched("fast growth"));
    assert!(run(&policy, &mut state, &c(8, 70.0, 0.40)).0.len() == 1);
}

#[test]
fn a_rate_needs_doses_that_differ_and_a_full_window() {
    let policy = Policy::parse(GROWTH, "p").unwrap();
    let mut state = RunState::default();
    let c = |seq, dose, f| F::new(seq).dose(dose).community(2, f);
    // Two frames: still gathering, silently.
    assert_eq!(run(&policy, &mut state, &c(0, 5.0, 0.1)), (vec![], vec![]));
    assert_eq!(run(&policy, &mut state, &c(1, 5.0, 0.5)), (vec![], vec![]));
    let (fired, notes) = run(&policy, &mut state, &c(2, 5.0, 0.9));
    assert!(fired.is_empty());
    assert!(notes[0].contains("doses do not differ"), "{notes:?}");
}

#[test]
fn a_rate_per_frame_uses_sequence_numbers() {
    let text = r#"
[[rule]]
name = "shrinking"
when = "rate"
per = "frame"
window = 2
class = "ordered"
below = -0.05
frames = 2
action = { do = "change_dose_rate", factor = 0.5 }
"#;
    let policy = Policy::parse(text, "p").unwrap();
    assert!(policy.needs_classes());
    let mut state = RunState::default();
    let o = |seq, f| F::new(seq).class("ordered", f);
    assert!(run(&policy, &mut state, &o(0, 0.9)).0.is_empty());
    // -0.1 per frame over seq 0..1: first frame of two.
    assert!(run(&policy, &mut state, &o(1, 0.8)).0.is_empty());
    // A gap: seq 1 -> 3, -0.2 over 2 frames = -0.1 per frame: second frame, fires.
    let (fired, _) = run(&policy, &mut state, &o(3, 0.6));
    assert_eq!(fired[0].action, Action::ChangeDoseRate { factor: 0.5 });
    assert_eq!(
        fired[0].reason,
        "class ordered changes -0.1 per frame < -0.05 (last 2 frames, for 2 frames)"
    );
    assert!(state.history_len() <= 2, "{}", state.history_len());
}

#[test]
fn a_new_community_fires_once_per_id_and_never_on_the_first_frame() {
    let text = r#"
[[rule]]
name = "new phase"
when = "new_community"
action = { do = "acquire_roi", goal = "rarest", magnification = 4 }
"#;
    let policy = Policy::parse(text, "p").unwrap();
    let mut state = RunState::default();
    let first = F::new(0).community(0, 0.7).community(1, 0.3);
    assert!(
        run(&policy, &mut state, &first).0.is_empty(),
        "never on the first frame"
    );
    // Below min_fraction (0.02): not yet an appearance.
    let f = F::new(1)
        .community(0, 0.69)
        .community(1, 0.3)
        .community(5, 0.01);
    assert!(run(&policy, &mut state, &f).0.is_empty());
    let f = F::new(2)
        .community(0, 0.67)
        .community(1, 0.3)
        .community(5, 0.03);
    let (fired, _) = run(&policy, &mut state, &f);
    assert_eq!(names(&fired), ["new phase"]);
    assert_eq!(
        fired[0].reason,
        "community 5 (0.03 of the frame) appeared for the first time in the run (at least 0.02 \
         of the frame)"
    );
    match &fired[0].action {
        Action::AcquireRoi { roi } => {
            assert_eq!((roi.goal, roi.magnification), (RoiGoal::Rarest, 4.0));
        }
        other => panic!("{other:?}"),
    }
    // Once per id: 5 again is nothing; 5 gone and back is nothing; 6 and 7 fire (once).
    assert!(
        run(
            &policy,
            &mut state,
            &F {
                seq: 3,
                ..f.clone()
            }
        )
        .0
        .is_empty()
    );
    assert!(
        run(&policy, &mut state, &F::new(4).community(0, 1.0))
            .0
            .is_empty()
    );
    let f = F::new(5)
        .community(5, 0.5)
        .community(6, 0.25)
        .community(7, 0.25);
    let (fired, _) = run(&policy, &mut state, &f);
    assert_eq!(fired.len(), 1);
    assert!(
        fired[0]
            .reason
            .starts_with("communities 6 (0.25 of the frame), 7 (0.25"),
        "{}",
        fired[0].reason
    );
}

#[test]
fn an_acquire_roi_without_a_region_fires_as_nothing_and_says_so() {
    let text = r#"
[[rule]]
name = "unsure"
when = "low_confidence"
margin = 0.05
area = 0.5
action = { do = "acquire_roi", goal = "boundary", magnification = 3, class = "disordered" }
"#;
    let policy = Policy::parse(text, "p").unwrap();
    assert!(
        policy.needs_classes(),
        "the action's boundary is of a class"
    );
    let mut state = RunState::default();
    let f = F::new(0).confidence(vec![0.01, 0.02, 0.5, 0.6]);
    let (fired, notes) = run_with(&policy, &mut state, &f, &Stub(false));
    assert!(fired.is_empty());
    assert!(
        notes[0].contains("rule \"unsure\" fired (a share of 0.5 of the chips"),
        "{notes:?}"
    );
    assert!(notes[0].contains("no region was found"), "{notes:?}");
    assert!(state.is_latched("unsure"), "it fired, as nothing");
}

#[test]
fn low_confidence_holds_for_its_frames_and_re_arms_when_it_stops() {
    let text = r#"
[[rule]]
name = "unsure"
when = "low_confidence"
margin = 0.05
area = 0.25
frames = 2
action = { do = "acquire_roi", goal = "low_confidence", magnification = 4 }
"#;
    let policy = Policy::parse(text, "p").unwrap();
    let mut state = RunState::default();
    let unsure = vec![0.01, 0.5, 0.5, 0.5]; // 0.25 of the chips
    let sure = vec![0.5; 4];
    let f = |seq, c: &Vec<f32>| F::new(seq).confidence(c.clone());
    assert!(run(&policy, &mut state, &f(0, &unsure)).0.is_empty());
    let (fired, _) = run(&policy, &mut state, &f(1, &unsure));
    assert_eq!(
        fired[0].reason,
        "a share of 0.25 of the chips has a confidence below 0.05 (at least 0.25) for 2 frames"
    );
    assert!(
        run(&policy, &mut state, &f(2, &unsure)).0.is_empty(),
        "latched"
    );
    // No confidences: noted, nothing changes.
    let (fired, notes) = run(&policy, &mut state, &F::new(3));
    assert!(fired.is_empty() && notes[0].contains("no chip confidences"));
    assert!(state.is_latched("unsure"));
    assert!(run(&policy, &mut state, &f(4, &sure)).0.is_empty());
    assert!(!state.is_latched("unsure"));
    assert!(run(&policy, &mut state, &f(5, &unsure)).0.is_empty());
    assert_eq!(run(&policy, &mut state, &f(6, &unsure)).0.len(), 1);
}

#[test]
fn unchanged_counts_frames_without_movement() {
    let text = r#"
[[rule]]
name = "nothing happens"
when = "unchanged"
frames = 3
action = { do = "change_dose_rate", factor = 2.0 }
"#;
    let policy = Policy::parse(text, "p").unwrap();
    let mut state = RunState::default();
    let c = |seq, a: f64| F::new(seq).community(0, a).community(1, 1.0 - a);
    // The first frame has nothing to compare with.
    assert!(run(&policy, &mut state, &c(0, 0.5)).0.is_empty());
    assert!(run(&policy, &mut state, &c(1, 0.505)).0.is_empty());
    assert!(run(&policy, &mut state, &c(2, 0.51)).0.is_empty());
    let (fired, _) = run(&policy, &mut state, &c(3, 0.512));
    assert_eq!(fired[0].action, Action::ChangeDoseRate { factor: 2.0 });
    assert!(
        fired[0]
            .reason
            .starts_with("no fraction moved by more than 0.01 (largest: community"),
        "{}",
        fired[0].reason
    );
    assert!(
        fired[0].reason.ends_with("for 3 frames"),
        "{}",
        fired[0].reason
    );
    assert!(
        run(&policy, &mut state, &c(4, 0.512)).0.is_empty(),
        "latched"
    );
    // A jump re-arms; so does a class moving.
    assert!(run(&policy, &mut state, &c(5, 0.7)).0.is_empty());
    assert!(!state.is_latched("nothing happens"));
    assert_eq!(state.history_len(), 1, "only the previous frame is kept");
}

#[test]
fn a_stale_frame_changes_nothing() {
    let policy = Policy::parse(HALF, "half.toml").unwrap();
    let mut state = RunState::default();
    run(&policy, &mut state, &F::new(4).class("disordered", 0.6));
    let before = state.clone();
    for seq in [4, 3, 0] {
        let obs = Observation {
            seq,
            dose: None,
            communities: &[],
            classes: Some(&[("disordered".to_string(), 0.9)]),
            chip_confidence: None,
        };
        assert_eq!(
            evaluate(&policy, &mut state, &obs, &Stub(true)),
            Evaluation::Stale { last: 4 }
        );
    }
    assert_eq!(state, before);
    assert_eq!(state.last_seq(), Some(4));
    assert_eq!(state.frames_evaluated(), 1);
}

#[test]
fn the_state_survives_a_restart() {
    let policy = Policy::parse(
        include_str!("../../../deploy/policies/irradiation.toml"),
        "irradiation.toml",
    )
    .unwrap();
    let frames = [
        F::new(0)
            .dose(0.0)
            .class("disordered", 0.2)
            .confidence(vec![0.5; 4]),
        F::new(1)
            .dose(10.0)
            .class("disordered", 0.4)
            .confidence(vec![0.01, 0.5, 0.5, 0.5]),
        F::new(2)
            .dose(20.0)
            .class("disordered", 0.55)
            .confidence(vec![0.01, 0.5, 0.5, 0.5]),
        F::new(3)
            .dose(30.0)
            .class("disordered", 0.6)
            .confidence(vec![0.5; 4]),
    ];
    let mut straight = RunState::default();
    let mut restarted = RunState::default();
    let mut all_straight = Vec::new();
    let mut all_restarted = Vec::new();
    for f in &frames {
        all_straight.push(run(&policy, &mut straight, f));
        all_restarted.push(run(&policy, &mut restarted, f));
        // Through text and back, as a decider keeps it between frames.
        let saved = toml::to_string(&restarted).unwrap();
        restarted = toml::from_str(&saved).unwrap();
        assert_eq!(restarted, straight, "{saved}");
    }
    assert_eq!(all_restarted, all_straight);
    let fired: Vec<Vec<&str>> = all_straight.iter().map(|(f, _)| names(f)).collect();
    assert_eq!(
        fired,
        [
            vec![],
            vec![],
            vec!["fast growth", "unsure"],
            vec!["disordered past half"]
        ]
    );
}

#[test]
fn a_rule_whose_condition_changes_starts_afresh() {
    let policy = Policy::parse(HALF, "half.toml").unwrap();
    let mut state = RunState::default();
    run(&policy, &mut state, &F::new(0).class("disordered", 0.6));
    run(&policy, &mut state, &F::new(1).class("disordered", 0.6));
    assert!(state.is_latched("half"));
    // Only `frames` and `release` changed: the same condition, still latched.
    let relaxed = HALF
        .replace("frames = 2", "frames = 3")
        .replace("0.45", "0.4");
    let relaxed = Policy::parse(&relaxed, "p").unwrap();
    assert!(
        run(&relaxed, &mut state, &F::new(2).class("disordered", 0.6))
            .0
            .is_empty()
    );
    assert!(state.is_latched("half"));
    // The same name, another threshold: a new rule, which fires.
    let changed = HALF
        .replace("above = 0.5", "above = 0.55")
        .replace("0.45", "0.5")
        .replace("frames = 2", "frames = 1");
    let changed = Policy::parse(&changed, "p").unwrap();
    let (fired, _) = run(&changed, &mut state, &F::new(3).class("disordered", 0.6));
    assert_eq!(names(&fired), ["half"]);
}

#[test]
fn rules_fire_in_the_policy_order() {
    let text = r#"
[[rule]]
name = "b"
when = "threshold"
community = 1
above = 0.1
action = "continue"

[[rule]]
name = "a"
when = "threshold"
community = 1
above = 0.2
action = "stop"
"#;
    let policy = Policy::parse(text, "p").unwrap();
    let (fired, _) = run(
        &policy,
        &mut RunState::default(),
        &F::new(0).community(1, 0.9),
    );
    assert_eq!(names(&fired), ["b", "a"]);
    assert_eq!(fired[0].action, Action::Continue);
}

#[test]
fn odd_observations_do_not_panic() {
    let policy = Policy::parse(
        include_str!("../../../deploy/policies/survey.toml"),
        "survey.toml",
    )
    .unwrap();
    let mut state = RunState::default();
    let frames = [
        F::new(0),
        F::new(1)
            .community(u32::MAX, f64::NAN)
            .dose(f64::NEG_INFINITY),
        F::new(2).community(1, -3.0).confidence(vec![]),
        F::new(u64::MAX)
            .community(1, f64::MAX)
            .community(1, f64::MAX),
    ];
    for f in &frames {
        let _ = run(&policy, &mut state, f);
    }
    assert_eq!(state.last_seq(), Some(u64::MAX));
}

#[test]
fn the_deployed_examples_parse() {
    let irradiation = Policy::parse(
        include_str!("../../../deploy/policies/irradiation.toml"),
        "irradiation.toml",
    )
    .unwrap();
    assert_eq!(irradiation.name.as_deref(), Some("irradiation"));
    let kinds: Vec<&str> = irradiation
        .rules
        .iter()
        .map(|r| r.condition.kind())
        .collect();
    assert_eq!(kinds, ["threshold", "rate", "low_confidence"]);
    assert!(irradiation.needs_classes());
    assert_eq!(irradiation.rules[0].action, ActionSpec::Stop);
    assert!(matches!(
        irradiation.rules[0].condition,
        Condition::Threshold(ref l) if l.frames == 2 && l.release == 0.45
    ));

    let survey = Policy::parse(
        include_str!("../../../deploy/policies/survey.toml"),
        "survey.toml",
    )
    .unwrap();
    assert_eq!(survey.name.as_deref(), Some("survey"));
    assert!(!survey.needs_classes());
    assert!(survey.rules.iter().any(|r| matches!(
        r.action,
        ActionSpec::AcquireRoi {
            goal: RoiGoal::Rarest,
            ..
        }
    )));

    // The example in docs/policies.md too.
    let docs = include_str!("../../../docs/policies.md");
    let example = docs
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let policy = Policy::parse(example, "docs/policies.md").unwrap();
    assert_eq!(policy.rules.len(), 5);
}
