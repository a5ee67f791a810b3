//! The `tessera-decider` binary refuses a bad setting at start-up, before it connects to anything,
//! naming the setting and the way out (and this test makes `cargo test` build the binary,
//! which the live tests and the container images then use as it is).

use std::process::Command;

#[test]
fn a_bad_setting_stops_it_at_once_with_the_key_and_the_way_out() {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-decider"))
        .env("TESSERA__QUEUES__EMBEDDER_ACK_WAIT_SECS", "1")
        .env("TESSERA__BUS__URL", "nats://127.0.0.1:1")
        .output()
        .expect("running tessera-decider");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("queues.embedder_ack_wait_secs") && stderr.contains("at least 3"),
        "{stderr}"
    );
}
