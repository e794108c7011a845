#!/usr/bin/env bash
# Usage: fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags...]
# Runs one target on the stable toolchain (no sanitizer), growing corpus/TARGET from seeds/TARGET.
# Crashes land in artifacts/TARGET/; see README.md for keeping them as regression inputs.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?target name: certificate, four_fields, cms, auth_proof, crl, der, crl_parse or resign}
seconds=${2:-60}
shift $(( $# > 1 ? 2 : 1 ))
mkdir -p "corpus/$target"
exec cargo fuzz run -s none "$target" "$PWD/corpus/$target" "$PWD/seeds/$target" -- \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$@"
