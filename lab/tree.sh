#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bring build/src/ours up to date: the base tree, the ordered patches of
# lab/patches/ and the project's own files on top.  Only files whose content
# changed are rewritten, so make rebuilds only what depends on them.
source "$(dirname "$0")/common.sh"

[ -f "$VANILLA/.lab-tarball" ] || die "base tree missing: run 'make setup' first"

# The ours tree starts as hard links to the base tree; every file the lab
# changes is replaced by a new file (never written in place), so the base
# tree stays pristine.
if [ "$(cat "$OURS_SRC/.lab-tarball" 2>/dev/null)" != "$(cat "$VANILLA/.lab-tarball")" ]; then
	rm -rf "$OURS_SRC"
	cp -al "$VANILLA" "$OURS_SRC"
	rm -f "$OURS_SRC/.lab-managed"
fi

stage=$BUILD/stage
rm -rf "$stage"
mkdir -p "$stage"
: >"$stage.deleted"

# 1. Patches to base-kernel files, applied in order to copies of those files.
for p in "$LAB"/patches/*.patch; do
	[ -e "$p" ] || continue
	for f in $(sed -n -e 's|^--- a/||p' -e 's|^+++ b/||p' "$p" | sort -u); do
		[ -e "$stage/$f" ] || [ ! -e "$VANILLA/$f" ] && continue
		mkdir -p "$stage/$(dirname "$f")"
		cp "$VANILLA/$f" "$stage/$f"
	done
	patch -p1 -s -f -E --no-backup-if-mismatch -d "$stage" <"$p" ||
		die "patch $(basename "$p") does not apply to Linux $(base_version)"
done
# Files a patch deleted.
(cd "$stage" && for p in "$LAB"/patches/*.patch; do
	[ -e "$p" ] || continue
	awk '/^diff --git /{f=$3} /^deleted file mode/{sub(/^a\//, "", f); print f}' "$p"
done) | sort -u >"$stage.deleted"

# 2. The project's own files.
project_files | while read -r f; do
	mkdir -p "$stage/$(dirname "$f")"
	cp "$ROOT/$f" "$stage/$f"
done

# 3. Sync into the ours tree by content.
(cd "$stage" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) >"$stage.files"
changed=0
while read -r f; do
	if ! cmp -s "$stage/$f" "$OURS_SRC/$f"; then
		mkdir -p "$OURS_SRC/$(dirname "$f")"
		cp "$stage/$f" "$OURS_SRC/$f.lab-new"
		mv -f "$OURS_SRC/$f.lab-new" "$OURS_SRC/$f"
		changed=$((changed + 1))
	fi
done <"$stage.files"
while read -r f; do
	[ -n "$f" ] && [ -e "$OURS_SRC/$f" ] && { rm -f "$OURS_SRC/$f"; changed=$((changed + 1)); }
done <"$stage.deleted"
# Files managed last time but not now go back to the base version.
if [ -f "$OURS_SRC/.lab-managed" ]; then
	cat "$stage.files" "$stage.deleted" | LC_ALL=C sort -u >"$stage.now"
	LC_ALL=C comm -23 "$OURS_SRC/.lab-managed" "$stage.now" | while read -r f; do
		rm -f "$OURS_SRC/$f"
		[ -e "$VANILLA/$f" ] && ln "$VANILLA/$f" "$OURS_SRC/$f"
		echo "restored $f"
	done
fi
cat "$stage.files" "$stage.deleted" | LC_ALL=C sort -u >"$OURS_SRC/.lab-managed"
say "ours tree: $(wc -l <"$stage.files") project/patched files, $changed changed, $(wc -l <"$stage.deleted") deleted"
