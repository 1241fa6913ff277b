#!/usr/bin/env bash
# `cargo deny check --hide-inclusion-graph licenses bans sources` (deny.toml): every dependency's
# licence is one we accept, no banned or wildcard dependency, and nothing
# comes from outside crates.io. Installs cargo-deny the first time.
# Advisories are left out: they need the RustSec database, a git clone this
# machine cannot fetch (only package registries are reachable).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="0.20.2"
if ! cargo deny --version 2>/dev/null | grep -q "$VERSION"; then
  echo "deny: installing cargo-deny $VERSION from crates.io (one time, a few minutes)" >&2
  cargo install "cargo-deny@$VERSION" --locked >&2
fi
cargo deny check --hide-inclusion-graph licenses bans sources
