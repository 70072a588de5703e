#!/usr/bin/env bash
# A new analyser is its own files plus one registry line: copies the sources to a scratch tree,
# adds docs/examples/analyser/activity_stage.c as src/events/activity_stage.c and its line in
# src/pipeline/registry.c, shows the diff's size (and fails if anything else had to change),
# builds vigie there and checks that the registry, the options, the ordering and the needs all
# know the new analyser. Usage: new_analyser.sh SOURCE_DIR INPUT_VIDEO
set -euo pipefail
src=$(cd "$1" && pwd)
input=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/a"
for d in CMakeLists.txt cmake include src cli web; do cp -r "$src/$d" "$tmp/a/"; done
cp -r "$tmp/a" "$tmp/b"

# The change: one new file, one line.
cp "$src/docs/examples/analyser/activity_stage.c" "$tmp/b/src/events/activity_stage.c"
sed -i 's|^    /\* end of the list \*/$|    X(vg__activity_stage) \\\n&|' "$tmp/b/src/pipeline/registry.c"

(cd "$tmp" && diff -ruN a b > change.diff) || true
added=$(grep -c '^+[^+]' "$tmp/change.diff" || true)
removed=$(grep -c '^-[^-]' "$tmp/change.diff" || true)
files=$(grep -c '^diff ' "$tmp/change.diff" || true)
other=$(grep '^diff ' "$tmp/change.diff" | grep -v 'src/events/activity_stage.c\|src/pipeline/registry.c' || true)
reg_added=$(awk '/^diff .*registry.c/{r=1;next} /^diff /{r=0} r && /^\+[^+]/' "$tmp/change.diff" | wc -l)
reg_removed=$(awk '/^diff .*registry.c/{r=1;next} /^diff /{r=0} r && /^-[^-]/' "$tmp/change.diff" | wc -l)
echo "new analyser: $files files changed, $added lines added, $removed removed; in the registry: +$reg_added -$reg_removed"
grep '^diff ' "$tmp/change.diff" | sed 's/^diff -ruN a\//  /; s/ b\/.*//'
if [ -n "$other" ] || [ "$files" -ne 2 ] || [ "$reg_added" -ne 1 ] || [ "$reg_removed" -ne 0 ]; then
  echo "FAIL: adding an analyser touched more than its own file and the registry line"; exit 1
fi

cmake -S "$tmp/b" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVG_BUILD_TESTS=OFF \
  -DVG_BUILD_BENCH=OFF >/dev/null
ninja -C "$tmp/build" vigie-cli >/dev/null
v=$tmp/build/vigie

"$v" options activity | grep -q 'activity.every' || { echo "FAIL: vigie options does not list activity.every"; exit 1; }
out=$("$v" analyze -a activity "$input" 2>&1) && { echo "FAIL: activity without motion was accepted"; exit 1; }
echo "$out" | grep -q "analyser 'activity' needs the foreground mask that analyser 'motion' provides" ||
  { echo "FAIL: no message for the missing need: $out"; exit 1; }
# Listed before motion: the registry runs it after motion all the same.
log=$("$v" analyze -a activity,motion --set activity.every=1 --to 3 "$input" 2>&1 >/dev/null)
n=$(echo "$log" | grep -c 'of the picture moved' || true)
echo "$log" | grep 'of the picture moved' | head -3
[ "$n" -ge 3 ] || { echo "FAIL: expected 3 reports or more, got $n"; exit 1; }
echo "new analyser: built, listed, ordered after motion, refused without it"
