//! The etcd the storage tests run against starts, answers and is cleaned up.

use blackbox_tests::TestEtcd;

#[tokio::test]
async fn test_etcd_starts_healthy_on_a_loopback_port() {
    let etcd = TestEtcd::start().await;
    assert!(etcd.endpoint().starts_with("http://127.0.0.1:"));
    assert!(etcd.is_healthy().await, "{}", etcd.log());
}
