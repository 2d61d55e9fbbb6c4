//! Every file in `consul/` as `consul config write` would get it.

use std::path::PathBuf;

use migration::mesh::GREETER_MESH;
use split::check::{self, Entry};

fn consul_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../consul")
}

#[test]
fn every_entry_file_parses_and_passes_the_checks() {
    let files = check::load_dir(&consul_dir()).unwrap();
    let problems = check::check(&GREETER_MESH, &files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_repository_holds_each_kind_of_entry_the_migration_needs() {
    let files = check::load_dir(&consul_dir()).unwrap();
    let count = |kind: &str| files.iter().filter(|f| f.entry.id().starts_with(kind)).count();
    assert_eq!(count("service-defaults/"), 4);
    assert_eq!(
        count("service-intentions/"),
        5,
        "one per destination, and the default deny"
    );
    assert_eq!(count("terminating-gateway/"), 1);
    assert_eq!(count("service-splitter/"), 1);
    assert_eq!(count("proxy-defaults/global"), 1);
    assert_eq!(
        count("acl-policy/terminating-gateway-services"),
        1,
        "the grant split grant applies by default"
    );
}

#[test]
fn the_default_policy_file_is_the_one_in_consul() {
    let path = consul_dir().join("acl/terminating-gateway-services.hcl");
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(split::grant::DEFAULT_POLICY_FILE);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        std::fs::read_to_string(default).unwrap()
    );
}

#[test]
fn the_committed_splitter_is_what_the_command_prints_for_50() {
    let committed = std::fs::read_to_string(consul_dir().join("service-splitter.hcl")).unwrap();
    assert_eq!(committed, migration::consul::hcl("50".parse().unwrap()));
    let file = check::parse(&consul_dir().join("service-splitter.hcl"), &committed).unwrap();
    assert!(matches!(file.entry, Entry::ServiceSplitter(_)));
}
