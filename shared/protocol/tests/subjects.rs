//! Ids, subjects, message ids and the stream/consumer/bucket definitions.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_protocol::{streams::*, subjects::*, *};

#[test]
fn ids_accept_subject_tokens_only() {
    for good in [
        "r",
        "run-1",
        "RUN_2024-05-01T10-00-00Z",
        "0",
        &"a".repeat(64),
    ] {
        assert_eq!(RunId::new(good).unwrap().as_str(), good);
        assert_eq!(InstrumentId::new(good).unwrap().to_string(), good);
    }
    for bad in [
        "",
        "a.b",
        "a*",
        "a>",
        ">",
        "a b",
        " a",
        "a\n",
        "ü",
        "a/b",
        &"a".repeat(65),
    ] {
        let e = RunId::new(bad).unwrap_err();
        assert!(
            matches!(e, ProtocolError::InvalidToken { what: "run id", .. }),
            "{bad:?}"
        );
        assert!(InstrumentId::new(bad).is_err(), "{bad:?}");
    }
    let e = InstrumentId::new("titan.1").unwrap_err().to_string();
    assert!(
        e.contains("instrument id") && e.contains("'.'") && e.contains("position 5"),
        "{e}"
    );
    // Ids travel as plain strings.
    assert_eq!(encode(&run()).unwrap(), encode("run-2024_001").unwrap());
}

#[test]
fn subjects_round_trip() {
    let (i, r) = (instrument(), run());
    let routes = [
        (
            Route::AcqStart(i.clone()),
            "tessera.acq.titan-1.start",
            MessageKind::RunStart,
            Some("ACQ"),
        ),
        (
            Route::AcqFrame(i.clone()),
            "tessera.acq.titan-1.frame",
            MessageKind::Frame,
            Some("ACQ"),
        ),
        (
            Route::AcqStop(i.clone()),
            "tessera.acq.titan-1.stop",
            MessageKind::RunStop,
            Some("ACQ"),
        ),
        (
            Route::Work(r.clone()),
            "tessera.work.run-2024_001",
            MessageKind::ChipBatch,
            Some("WORK"),
        ),
        (
            Route::Embedded(r.clone()),
            "tessera.embedded.run-2024_001",
            MessageKind::EmbeddingBatch,
            Some("EMBEDDED"),
        ),
        (
            Route::Segmented(r.clone()),
            "tessera.segmented.run-2024_001",
            MessageKind::Segmented,
            Some("SEGMENTED"),
        ),
        (
            Route::Results {
                instrument: i.clone(),
                run: r.clone(),
            },
            "tessera.results.titan-1.run-2024_001",
            MessageKind::FrameResult,
            Some("RESULTS"),
        ),
        (
            Route::Decisions {
                instrument: i.clone(),
                run: r.clone(),
            },
            "tessera.decisions.titan-1.run-2024_001",
            MessageKind::Decision,
            Some("DECISIONS"),
        ),
        (
            Route::Acks {
                instrument: i.clone(),
                run: r.clone(),
            },
            "tessera.acks.titan-1.run-2024_001",
            MessageKind::DecisionAck,
            Some("DECISIONS"),
        ),
        (
            Route::Rejects(Service::Ingest),
            "tessera.rejects.ingest",
            MessageKind::Reject,
            Some("REJECTS"),
        ),
        (
            Route::DeadLetters("WORK".into()),
            "tessera.dlq.WORK",
            MessageKind::DeadLetter,
            Some("DLQ"),
        ),
        (
            Route::Status(Service::Embedder),
            "tessera.status.embedder",
            MessageKind::ServiceStatus,
            None,
        ),
    ];
    for (route, subject, kind, stream) in routes {
        assert_eq!(route.subject(), subject);
        assert_eq!(Route::parse(subject).unwrap(), route);
        assert_eq!(route.kind(), kind);
        assert_eq!(route.stream(), stream, "{subject}");
    }
    assert_eq!(acq_frame_subject(&i), "tessera.acq.titan-1.frame");
    assert_eq!(
        results_subject(&i, &r),
        "tessera.results.titan-1.run-2024_001"
    );
    assert!(subject_matches(RESULTS_ALL, &results_subject(&i, &r)));
    assert!(subject_matches(
        &results_instrument_filter(&i),
        &results_subject(&i, &r)
    ));
    assert!(subject_matches(
        &acq_instrument_filter(&i),
        &acq_stop_subject(&i)
    ));
    assert_eq!(dlq_subject("WORK").unwrap(), "tessera.dlq.WORK");
    assert!(dlq_subject("A.B").is_err());
    for service in Service::ALL {
        assert_eq!(service.as_str().parse::<Service>().unwrap(), service);
        assert_eq!(
            Route::parse(&rejects_subject(service)).unwrap(),
            Route::Rejects(service)
        );
        assert_eq!(
            Route::parse(&status_subject(service)).unwrap(),
            Route::Status(service)
        );
    }
}

#[test]
fn bad_subjects_say_what_was_expected() {
    for (subject, expect) in [
        ("", "does not start"),
        ("nats.acq.x.frame", "does not start"),
        ("tessera", "second token"),
        ("tessera.acq.titan-1.pause", "start, .frame or .stop"),
        ("tessera.acq.titan-1", "start, .frame or .stop"),
        ("tessera.work", "tessera.work.<run>"),
        ("tessera.work.a.b", "tessera.work.<run>"),
        ("tessera.work.*", "run id"),
        ("tessera.results.i", "<instrument>.<run>"),
        ("tessera.rejects.gateway", "not a Tessera service"),
        ("tessera.status", "tessera.status.<service>"),
        ("tessera.dlq", "tessera.dlq.<stream>"),
        ("tessera.nope.x", "second token"),
        ("tessera..work", "second token"),
    ] {
        let e = Route::parse(subject).unwrap_err();
        assert!(matches!(e, ProtocolError::Subject { .. }), "{subject}");
        assert!(e.to_string().contains(expect), "{subject}: {e}");
    }
}

#[test]
fn message_ids_and_keys() {
    let r = run();
    assert_eq!(keys::frame_msg_id(&r, 7), "acq:frame:run-2024_001:7");
    assert_eq!(keys::batch_msg_id(&r, 7, 2), "work:run-2024_001:7:2");
    assert_eq!(keys::result_msg_id(&r, 7), "result:run-2024_001:7");
    let ids = [
        keys::start_msg_id(&r),
        keys::frame_msg_id(&r, 7),
        keys::frame_msg_id(&r, 8),
        keys::stop_msg_id(&r),
        keys::batch_msg_id(&r, 7, 0),
        keys::batch_msg_id(&r, 7, 1),
        keys::embedded_msg_id(&r, 7, 0),
        keys::segmented_msg_id(&r, 7),
        keys::result_msg_id(&r, 7),
        keys::dead_letter_msg_id("WORK", 7),
        keys::reject_msg_id(Service::Ingest, "tessera.acq.x.frame", "9"),
    ];
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    // KV keys: [-/_=.a-zA-Z0-9]; the progress keys of one run share a watchable prefix.
    let key = keys::progress_key(&r, 12);
    assert_eq!(key, "run-2024_001.12");
    assert!(subject_matches(&keys::progress_run_filter(&r), &key));
    for k in [key, keys::run_key(&r), keys::latest_key(&r)] {
        assert!(
            k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-/_=.".contains(c)),
            "{k}"
        );
    }
    assert_eq!(keys::overlay_object(&r, 3), "run-2024_001/3.overlay.png");
}

#[test]
fn streams_are_valid_and_disjoint() {
    let streams = all_streams();
    assert_eq!(streams.len(), 8);
    for s in &streams {
        assert!(
            is_valid_token(s.name) && !s.name.contains('.'),
            "{}",
            s.name
        );
        assert!(!s.subjects.is_empty() && s.max_msg_size > 0 && s.max_bytes > 0);
        assert_eq!(s.duplicate_window_secs, 120);
        assert_eq!(stream(s.name), Some(s));
        assert_eq!(
            dlq_subject(s.name).unwrap(),
            format!("tessera.dlq.{}", s.name)
        );
    }
    // JetStream refuses streams whose subjects overlap, and status must stay off streams.
    for (i, a) in streams.iter().enumerate() {
        for b in &streams[i + 1..] {
            for pa in a.subjects {
                for pb in b.subjects {
                    assert!(
                        !patterns_overlap(pa, pb),
                        "{} {pa} overlaps {} {pb}",
                        a.name,
                        b.name
                    );
                }
            }
        }
        for p in a.subjects {
            assert!(!patterns_overlap(p, STATUS_PATTERN), "{p}");
        }
        for (x, pa) in a.subjects.iter().enumerate() {
            for pb in &a.subjects[x + 1..] {
                assert!(!patterns_overlap(pa, pb), "{pa} {pb} within {}", a.name);
            }
        }
    }
    // A dashboard's wildcard sees exactly the RESULTS stream.
    for s in &streams {
        let overlaps = s.subjects.iter().any(|p| patterns_overlap(p, RESULTS_ALL));
        assert_eq!(overlaps, s.name == "RESULTS", "{}", s.name);
    }
    assert_eq!(ACQ.max_msg_size, 8 * 1024 * 1024);
    assert_eq!(ACQ.max_age_secs, 7 * 24 * 3600);
    assert_eq!(WORK.retention, Retention::WorkQueue);
    assert_eq!(RESULTS.max_age_secs, 30 * 24 * 3600);
}

#[test]
fn consumers_buckets_and_stores() {
    for c in all_consumers() {
        let s = stream(c.stream).unwrap_or_else(|| panic!("{} has no stream", c.durable));
        assert!(is_valid_token(c.durable));
        assert!(c.filter_subject.is_empty() || s.subjects.contains(&c.filter_subject));
        assert!(c.ack_wait_secs >= 30 && c.max_deliver >= 2 && c.max_ack_pending > 0);
        assert!(
            c.durable.parse::<Service>().is_ok(),
            "durables are the services' names"
        );
    }
    assert_eq!(EMBEDDER_CONSUMER.ack_wait_secs, 30);
    assert_eq!(EMBEDDER_CONSUMER.max_deliver, 5);
    assert_eq!(EMBEDDER_CONSUMER.max_ack_pending, 256);
    // One durable per work-queue stream (JetStream allows one unfiltered consumer there).
    for s in all_streams()
        .iter()
        .filter(|s| s.retention == Retention::WorkQueue)
    {
        assert_eq!(
            all_consumers()
                .iter()
                .filter(|c| c.stream == s.name)
                .count(),
            1,
            "{}",
            s.name
        );
    }
    let kv: Vec<_> = all_kv_buckets().iter().map(|k| k.bucket).collect();
    assert_eq!(
        kv,
        [
            "tessera_progress",
            "tessera_latest",
            "tessera_runs",
            "tessera_series",
            "tessera_tracks",
            "tessera_classifiers",
            "tessera_policies",
            "tessera_decider"
        ]
    );
    let stores: Vec<_> = all_object_stores().iter().map(|o| o.bucket).collect();
    assert_eq!(
        stores,
        ["tessera_frames", "tessera_outputs", "tessera_classifiers"]
    );
    for name in kv.iter().chain(&stores) {
        assert!(is_valid_token(name));
    }
}
