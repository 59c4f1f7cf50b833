//! Learning-rate schedules against transformers 4.44.2 (`tests/fixtures/schedules.json`, from
//! `tools/reference/schedule_fixtures.py`), including LLark's 100,000-step cosine with 3% warmup.

use burn::backend::Flex;
use burn::optim::lr_scheduler::LrScheduler;
use llark_train::{LrSchedule, ScheduleKind, Warmup};
use serde_json::Value;

#[test]
fn schedules_equal_transformers_at_every_golden_step() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/schedules.json"
    ))
    .unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let mut worst = 0.0f64;
    let mut checked = 0;
    for case in fixture["cases"].as_array().unwrap() {
        let kind: ScheduleKind = serde_json::from_value(case["kind"].clone()).unwrap();
        let warmup = Warmup {
            ratio: case["warmup_ratio"].as_f64().unwrap(),
            steps: case["warmup_steps"].as_u64().unwrap() as usize,
        };
        let total = case["total_steps"].as_u64().unwrap() as usize;
        let base = case["base_lr"].as_f64().unwrap();
        let schedule = LrSchedule::new(kind, base, warmup, total).unwrap();
        assert_eq!(
            schedule.warmup_steps as u64,
            case["resolved_warmup"].as_u64().unwrap(),
            "{case:?}"
        );
        for pair in case["lrs"].as_array().unwrap() {
            let step = pair[0].as_u64().unwrap() as usize;
            let want = pair[1].as_f64().unwrap();
            let got = schedule.lr(step);
            let err = (got - want).abs();
            worst = worst.max(err / base);
            assert!(
                err <= 1e-12 * base.max(1.0),
                "{kind:?} total {total} step {step}: {got} vs {want}"
            );
            checked += 1;
        }
    }
    assert!(checked > 1500);
    println!("{checked} steps, max relative difference {worst:e}");
}

#[test]
fn burn_scheduler_view_steps_through_the_same_rates() {
    let s = LrSchedule::new(
        ScheduleKind::Cosine,
        5e-5,
        Warmup {
            ratio: 0.03,
            steps: 0,
        },
        100,
    )
    .unwrap();
    let mut sched = s.scheduler_at(0);
    for step in 0..100 {
        assert_eq!(sched.step(), s.lr(step));
    }
    let saved = LrScheduler::to_record::<Flex>(&sched);
    let restored = s.scheduler_at(0).load_record::<Flex>(saved);
    assert_eq!(restored.position(), 100);
}
