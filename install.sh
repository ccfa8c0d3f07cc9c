#!/usr/bin/env bash
# Installs DashOffice on Debian/Ubuntu as a systemd service.
#
#   sudo ./install.sh                    build from this source tree (needs cargo) and install
#   sudo ./install.sh --deb FILE.deb     install a package made by `cargo deb`
#   sudo ./install.sh --binary FILE      install an already built binary
#   sudo ./install.sh --uninstall        remove program and unit; keep data and config
#
# Safe to run again: an existing config, data directory and user are left as they are;
# the binary and unit are replaced and a running service is restarted.
set -euo pipefail

PREFIX_BIN=/usr/bin/dashoffice
CONF_DIR=/etc/dashoffice
CONF="$CONF_DIR/dashoffice.toml"
DATA=/var/lib/dashoffice
UNIT=/etc/systemd/system/dashoffice.service
SYSUSERS=/usr/lib/sysusers.d/dashoffice.conf
TMPFILES=/usr/lib/tmpfiles.d/dashoffice.conf
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

mode=source
deb=""
binary=""
start=1

usage() {
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
    echo "install.sh: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --deb) deb="${2:-}"; mode=deb; shift 2 || die "--deb needs a file" ;;
        --binary) binary="${2:-}"; mode=binary; shift 2 || die "--binary needs a file" ;;
        --uninstall) mode=uninstall; shift ;;
        --no-start) start=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "run as root (sudo ./install.sh ...)"
[ -r /etc/debian_version ] || echo "install.sh: warning: this is not Debian/Ubuntu; continuing" >&2

has_systemd() {
    [ -d /run/systemd/system ]
}

deb_installed() {
    dpkg-query -W -f='${Status}' dashoffice 2>/dev/null | grep -q "install ok installed"
}

create_user() {
    if getent passwd dashoffice >/dev/null; then
        return
    fi
    if command -v systemd-sysusers >/dev/null 2>&1 && [ -f "$SYSUSERS" ]; then
        systemd-sysusers "$SYSUSERS"
    else
        adduser --system --group --home "$DATA" --no-create-home \
            --shell /usr/sbin/nologin --gecos "DashOffice appliance" dashoffice
    fi
}

build_from_source() {
    [ -f "$SRC/Cargo.toml" ] || die "no Cargo.toml next to install.sh; use --deb or --binary"
    local cargo=""
    cargo="$(command -v cargo || true)"
    local builder=()
    if [ -z "$cargo" ] && [ -n "${SUDO_USER:-}" ]; then
        local home
        home="$(getent passwd "$SUDO_USER" | cut -d: -f6)"
        [ -x "$home/.cargo/bin/cargo" ] && cargo="$home/.cargo/bin/cargo"
    fi
    [ -n "$cargo" ] || die "cargo not found: install Rust with https://rustup.rs (Debian's cargo is too old), or use --deb/--binary"
    # Build as the user who owns the source tree, not as root.
    local owner
    owner="$(stat -c %U "$SRC")"
    if [ "$owner" != root ] && command -v runuser >/dev/null 2>&1; then
        builder=(runuser -u "$owner" --)
    fi
    echo "== building (cargo build --release --locked) as ${owner}"
    (cd "$SRC" && "${builder[@]}" env PATH="$(dirname "$cargo"):$PATH" "$cargo" build --release --locked)
    local target="${CARGO_TARGET_DIR:-$SRC/target}"
    binary="$target/release/dashoffice"
    [ -x "$binary" ] || die "build finished but $binary is missing"
}

install_files() {
    echo "== installing $PREFIX_BIN, $UNIT, $SYSUSERS, $TMPFILES"
    install -m 0755 "$binary" "$PREFIX_BIN.new"
    mv -f "$PREFIX_BIN.new" "$PREFIX_BIN"
    install -D -m 0644 "$SRC/packaging/dashoffice.sysusers" "$SYSUSERS"
    install -D -m 0644 "$SRC/packaging/systemd/dashoffice.tmpfile" "$TMPFILES"
    install -D -m 0644 "$SRC/packaging/systemd/dashoffice.service" "$UNIT"
    create_user
    if [ ! -d "$DATA" ]; then
        install -d -o dashoffice -g dashoffice -m 0750 "$DATA"
    fi
    install -d -m 0755 "$CONF_DIR"
    if [ -f "$CONF" ]; then
        echo "== keeping existing $CONF"
    else
        install -o root -g dashoffice -m 0640 "$SRC/packaging/dashoffice.toml" "$CONF"
        echo "== wrote $CONF"
    fi
}

start_service() {
    echo "== checking the configuration"
    runuser -u dashoffice -- "$PREFIX_BIN" check --config "$CONF"
    if [ "$start" -eq 0 ]; then
        return
    fi
    if has_systemd; then
        systemctl daemon-reload
        systemctl enable dashoffice.service
        # restart also starts it, and picks up a new binary on a second run.
        systemctl restart dashoffice.service
        systemctl --no-pager --lines=0 status dashoffice.service || true
    else
        echo "install.sh: systemd is not running here; start it by hand with:" >&2
        echo "  runuser -u dashoffice -- $PREFIX_BIN serve --config $CONF" >&2
    fi
}

print_next_steps() {
    local listen
    listen="$(sed -n 's/^listen *= *"\(.*\)"/\1/p' "$CONF" | head -n1)"
    listen="${listen:-127.0.0.1:3009}"
    cat <<EOF

DashOffice is installed.
  URL:     http://${listen}/   (put a TLS reverse proxy in front for the public)
  config:  $CONF   (check it with: dashoffice check --config $CONF)
  data:    $DATA   (back it up with: dashoffice backup /path/to/new-dir --config $CONF)
  logs:    journalctl -u dashoffice   and   $DATA/logs/

Make the first admin (prints a generated password):
  runuser -u dashoffice -- dashoffice user add --config $CONF --email you@example.com --tenant "My Shop"
EOF
}

uninstall() {
    if deb_installed; then
        echo "== removing the dashoffice package (data and config are kept)"
        apt-get remove -y dashoffice
    else
        if has_systemd; then
            systemctl disable --now dashoffice.service 2>/dev/null || true
        fi
        rm -f "$UNIT" "$PREFIX_BIN" "$SYSUSERS" "$TMPFILES"
        if has_systemd; then
            systemctl daemon-reload
        fi
    fi
    cat <<EOF
DashOffice is uninstalled. Kept: $DATA (data), $CONF (config) and the dashoffice user.
Delete them for good with:  rm -rf $DATA $CONF_DIR && deluser --system dashoffice
EOF
}

case "$mode" in
    uninstall)
        uninstall
        ;;
    deb)
        [ -f "$deb" ] || die "no such package: $deb"
        if grep -qs '^Description=DashOffice' "$UNIT"; then
            # A unit left by a source install would shadow the package's.
            rm -f "$UNIT" "$SYSUSERS" "$TMPFILES"
        fi
        echo "== installing $deb"
        # apt resolves the package's dependencies; an existing config is kept as it is.
        DEBIAN_FRONTEND=noninteractive apt-get install -y \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            "$(realpath "$deb")"
        start_service
        print_next_steps
        ;;
    source|binary)
        if deb_installed; then
            die "the dashoffice package is installed; upgrade it with --deb (or --uninstall first)"
        fi
        if [ "$mode" = source ]; then
            build_from_source
        fi
        [ -x "$binary" ] || die "not an executable: $binary"
        install_files
        start_service
        print_next_steps
        ;;
esac
