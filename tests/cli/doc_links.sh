#!/usr/bin/env bash
# doc_links.sh — every relative link of the README and docs/ resolves inside the
# repository: a markdown link [text](path) or [text](path#anchor) must name a
# file or folder that exists, and an anchor into a markdown file must name one
# of its headings (GitHub's slugs). No file may point outside the repository
# (`../shared`) or at the design document that is not in it (`design.md`), and
# no file may keep a merge's conflict markers.
# Each failure names the file, the line and the link.
set -u
ROOT="${FW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$ROOT" || exit 1
SELF="tests/cli/doc_links.sh"
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# Markdown files of the repository (not build trees, not .git).
mapfile -t MDS < <(find . -name '*.md' -not -path './build*' -not -path './.git/*' \
                        -not -path '*/node_modules/*' | sed 's|^\./||' | sort)
[ "${#MDS[@]}" -gt 0 ] || { echo "FAIL: no markdown files under $ROOT" >&2; exit 1; }

# GitHub's anchors of a markdown file's headings, one a line: lower case,
# punctuation dropped, blanks to '-', repeats numbered -1, -2, ...
anchors() {
    awk '
        /^```/ { fence = !fence; next }
        fence { next }
        /^#+ / {
            h = $0
            sub(/^#+ +/, "", h)
            sub(/ +#+ *$/, "", h)
            h = tolower(h)
            gsub(/[^a-z0-9 _-]/, "", h)
            gsub(/ /, "-", h)
            n = seen[h]++
            print (n ? h "-" n : h)
        }' "$1"
}

# Links outside code fences and code spans: FILE<TAB>LINE<TAB>TARGET.
links() {
    awk -v f="$1" '
        /^```/ { fence = !fence; next }
        fence { next }
        {
            line = $0
            gsub(/`[^`]*`/, "", line)
            while (match(line, /\]\([^) ]+\)/)) {
                print f "\t" NR "\t" substr(line, RSTART + 2, RLENGTH - 3)
                line = substr(line, RSTART + RLENGTH)
            }
        }' "$1"
}

checked=0
for md in "${MDS[@]}"; do
    dir=$(dirname "$md")
    while IFS=$'\t' read -r file line target; do
        case "$target" in
        http://* | https://* | mailto:*) continue ;;
        esac
        checked=$((checked + 1))
        path="${target%%#*}"
        anchor=""
        [[ "$target" == *"#"* ]] && anchor="${target#*#}"
        if [ -z "$path" ]; then
            dest="$md"
        else
            dest="$dir/$path"
        fi
        if [ ! -e "$dest" ]; then
            fail "$file:$line: link to $target: $dest does not exist"
            continue
        fi
        if [ -n "$anchor" ] && [[ "$dest" == *.md ]] && [ -f "$dest" ] &&
            ! anchors "$dest" | grep -qxF -- "$anchor"; then
            fail "$file:$line: link to $target: no heading of $dest has the anchor #$anchor"
        fi
    done < <(links "$md")
done

# Nothing may point outside the repository or at the missing design document.
while IFS= read -r hit; do
    fail "$hit: points outside the repository or at a missing document"
done < <(grep -rnI -e '\.\./shared' -e 'design\.md' . \
             --exclude-dir=.git --exclude-dir='build*' --exclude-dir=node_modules |
         sed 's|^\./||' | grep -v "^$SELF:")

# A merge's conflict markers left in any tracked text (a line starting with
# seven <, = or > and, for two of them, a space or the line's end).
while IFS= read -r hit; do
    fail "$hit: a merge conflict marker"
done < <(grep -rnIE -e '^(<{7}|>{7})( |$)' -e '^={7}$' . \
             --exclude-dir=.git --exclude-dir='build*' --exclude-dir=node_modules |
         sed 's|^\./||' | grep -v "^$SELF:")

if [ "$fails" -gt 0 ]; then
    echo "doc_links: $fails broken reference(s) in ${#MDS[@]} markdown files" >&2
    exit 1
fi
echo "ok: $checked relative links in ${#MDS[@]} markdown files resolve; no ../shared, no design.md, no conflict markers"
