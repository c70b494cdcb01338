#!/usr/bin/env bash
# The demo: a scratch copy of this repo's own workspace (policy.yaml,
# templates/, cases/), two realistic complaints walked from receipt to
# archive, a third closed on the spot, then an agreement, a summary and a
# report. Nothing outside the scratch folder is touched.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ctl=${COMPLAINTCTL:-"$here/.venv/bin/complaintctl"}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/complaintctl-demo.XXXXXX")
ws="$scratch/workspace"

mkdir -p "$ws"
cp -R "$here/policy.yaml" "$here/templates" "$here/cases" "$here/.gitattributes" "$ws/"
git -C "$ws" init --quiet
# The scratch repo gets its own identity: the demo must run where git has none.
git -C "$ws" config user.name "Demo Runner"
git -C "$ws" config user.email "demo@example.com"
git -C "$ws" add -A && git -C "$ws" commit --quiet -m "Sample workspace"

export COMPLAINTCTL_ROOT="$ws"
# Each person works in their own shell: COMPLAINTCTL_USER says who is typing.
# Commands in bold on a terminal only (never into a log or a pipe; NO_COLOR honoured).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '\n%s%s$ complaintctl %s%s\n' "$bold" "${COMPLAINTCTL_USER:+[$COMPLAINTCTL_USER] }" "$*" "$plain"; "$ctl" "$@"; }
step() { printf '\n%s%s$ complaintctl %s%s\n' "$bold" "${COMPLAINTCTL_USER:+[$COMPLAINTCTL_USER] }" "$*" "$plain" >&2; "$ctl" "$@"; }

echo "== Case 1: overcharged on the property fee (in Chinese): a double refund, approved by a supervisor"
c1=$(COMPLAINTCTL_USER=alice@example.com step open --customer "张三" --phone 13812341234 \
  --address "上海市浦东新区锦绣路 88 弄 3 号 1201" --account "HT-2026-0415" \
  --channel phone --category billing \
  --summary "十月物业费被重复扣款 240 元" --demand "退还多扣的费用" --at 2026-11-16T09:12)
echo "$c1"
COMPLAINTCTL_USER=alice@example.com say note "$c1" --kind reply --channel phone --at 2026-11-16T10:05 \
  "已致歉，核实账单中，预计明天答复"
COMPLAINTCTL_USER=alice@example.com say note "$c1" --kind investigation --at 2026-11-16T15:30 \
  "Billing system ran the October batch twice; overcharge confirmed"
COMPLAINTCTL_USER=alice@example.com say propose "$c1" --overcharge --charged 480.00 --due 240.00 --currency CNY --kind refund \
  --terms "Refund to the original payment account within 7 days" --at 2026-11-17T09:00
COMPLAINTCTL_USER=carol@example.com say approve "$c1" 1 --at 2026-11-17T10:00
printf '%s\n' "Scan of the agreement signed by 张三 on 17 Nov (stand-in for a PDF scan)" > "$scratch/signed-agreement.txt"
COMPLAINTCTL_USER=alice@example.com say agree "$c1" --evidence "$scratch/signed-agreement.txt" --signed-by "张三" \
  --channel in-person --at 2026-11-17T14:20
# Carried out measure by measure (落实): who does what by when, each recorded done.
COMPLAINTCTL_USER=alice@example.com say plan "$c1" "退还 CNY 480.00 至原付款账户" --by finance --due 3d \
  --at 2026-11-17T14:30
COMPLAINTCTL_USER=alice@example.com say plan "$c1" "核查十月批量扣款，防止再次重复扣费" --by billing \
  --due 2026-11-24T17:00 --at 2026-11-17T14:35
COMPLAINTCTL_USER=alice@example.com say execute "$c1" 1 --text "Refund paid, bank ref 88231" --at 2026-11-19T10:40
COMPLAINTCTL_USER=alice@example.com say close "$c1" --resolution agreed --at 2026-11-19T11:00 \
  "Refund paid on 19 Nov, customer told by SMS" || echo "(refused, as it should be: measure 2 is not done yet)"
COMPLAINTCTL_USER=alice@example.com say execute "$c1" 2 --text "Batch job fixed and re-run checked" --at 2026-11-19T10:50
COMPLAINTCTL_USER=alice@example.com say close "$c1" --resolution agreed --told sms --at 2026-11-19T11:00 \
  "Refund paid on 19 Nov, customer told by SMS"
COMPLAINTCTL_USER=bob@example.com say followup "$c1" --satisfaction 5 --at 2026-11-21T10:00 "满意，感谢及时处理"
COMPLAINTCTL_USER=bob@example.com say archive "$c1" --at 2026-11-21T10:05

echo
echo "== Case 2: a late delivery, a failed call, an escalation and a credit"
c2=$(COMPLAINTCTL_USER=bob@example.com step open --customer "Maria Lopez" --email maria.lopez@example.net \
  --channel email --category delivery-delay --urgent \
  --summary "Kitchen unit promised for 10 Nov still not delivered" \
  --demand "Delivery this week and compensation" --at 2026-11-17T08:40)
echo "$c2"
COMPLAINTCTL_USER=bob@example.com say note "$c2" --kind contact-failed --channel phone --at 2026-11-17T09:00 \
  "No answer; SMS sent"
COMPLAINTCTL_USER=bob@example.com say note "$c2" --kind reply --channel phone --at 2026-11-17T09:30 \
  "Reached her on the second call; apologised; delivery booked for 20 Nov"
COMPLAINTCTL_USER=bob@example.com say escalate "$c2" --to carol@example.com --at 2026-11-17T10:00 \
  --reason "Urgent and the customer asks for compensation above the agent limit"
COMPLAINTCTL_USER=carol@example.com say propose "$c2" --amount 50.00 --currency USD --kind credit \
  --terms "USD 50.00 credit on the next invoice" --at 2026-11-18T16:00
COMPLAINTCTL_USER=carol@example.com say agree "$c2" --signed-by "Maria Lopez" --channel email --at 2026-11-19T09:10
COMPLAINTCTL_USER=carol@example.com say plan "$c2" "Deliver the kitchen unit" --by logistics --due 2026-11-20T18:00 \
  --at 2026-11-19T09:15
COMPLAINTCTL_USER=carol@example.com say plan "$c2" "USD 50.00 credit on the next invoice" --by billing --due 7d \
  --at 2026-11-19T09:20
COMPLAINTCTL_USER=carol@example.com say execute "$c2" 1 --text "Delivered and fitted" --at 2026-11-20T15:00
COMPLAINTCTL_USER=carol@example.com say execute "$c2" 2 --text "Credit note CN-2211" --at 2026-11-20T16:30
COMPLAINTCTL_USER=carol@example.com say close "$c2" --resolution agreed --at 2026-11-20T17:00 \
  "Delivered on 20 Nov; credit applied"
COMPLAINTCTL_USER=carol@example.com say followup "$c2" --satisfaction 4 --at 2026-11-22T09:00

echo
echo "== Case 3: explained on the spot; the customer cannot be reached afterwards"
c3=$(COMPLAINTCTL_USER=bob@example.com step open --customer "王芳" --phone "139 0000 5678" \
  --channel in-person --category information-not-given \
  --summary "不清楚公共维修基金的用途" --at 2026-11-21T15:00)
echo "$c3"
COMPLAINTCTL_USER=bob@example.com say close "$c3" --resolution explained --at 2026-11-21T15:20 \
  "Explained the fund rules at the front desk"
COMPLAINTCTL_USER=bob@example.com say followup "$c3" --unreachable --at 2026-11-21T16:00 || true
COMPLAINTCTL_USER=bob@example.com say note "$c3" --kind notice --channel sms --at 2026-11-21T16:00 \
  "SMS: we will call you about your visit; please call back on 400-000-0000"
COMPLAINTCTL_USER=bob@example.com say note "$c3" --kind contact-failed --channel phone --at 2026-11-21T16:30 "No answer"
COMPLAINTCTL_USER=bob@example.com say note "$c3" --kind contact-failed --channel phone --at 2026-11-21T19:30 "Phone off"
COMPLAINTCTL_USER=bob@example.com say note "$c3" --kind contact-failed --channel phone --at 2026-11-22T09:30 "No answer"
COMPLAINTCTL_USER=bob@example.com say followup "$c3" --unreachable --at 2026-11-22T09:35

echo
echo "== Case 4: urgent, unanswered; the CI check flags it"
c4=$(COMPLAINTCTL_USER=alice@example.com step open --customer "陈先生" --phone 13600001111 --channel phone \
  --category property-management --urgent --summary "电梯困人，物业电话无人接听" --at 2026-11-22T08:00)
echo "$c4"
say overdue --as-of 2026-11-22T11:00 || echo "(overdue exits 1: a CI job would turn red here)"

mkdir -p "$scratch/out"
say show "$c2"
say log "$c1"
say list
say report
say render "$c1" agreement --format html -o "$scratch/out/agreement-$c1.html"
say render "$c1" agreement --lang zh --format html -o "$scratch/out/agreement-$c1.zh.html"
say render "$c2" agreement --format pdf -o "$scratch/out/agreement-$c2.pdf"
say render "$c1" agreement --lang zh --format pdf -o "$scratch/out/agreement-$c1.zh.pdf"
say render "$c1" summary --format md
say report --since 2026-11-01 --until 2026-12-01 --format html -o "$scratch/out/report-2026-11.html"
say report --since 2026-11-01 --until 2026-12-01 --lang zh --format html -o "$scratch/out/report-2026-11.zh.html"
say report --since 2026-11-01 --until 2026-12-01 --format xlsx -o "$scratch/out/report-2026-11.xlsx"
say check && echo "(check: clean)"

echo
echo "== Team work: Bob works in his own clone; both note case 4 at once, then sync"
git init --quiet --bare "$scratch/remote.git"
git -C "$ws" remote add origin "$scratch/remote.git"
say sync
git clone --quiet "$scratch/remote.git" "$scratch/bob"
git -C "$scratch/bob" config user.name "Demo Runner"
git -C "$scratch/bob" config user.email "demo@example.com"
COMPLAINTCTL_ROOT="$scratch/bob" step setup
COMPLAINTCTL_ROOT="$scratch/bob" COMPLAINTCTL_USER=bob@example.com step note "$c4" --kind reply --channel phone \
  --at 2026-11-22T08:20 "Rescue team on site; customer out of the lift"
COMPLAINTCTL_USER=alice@example.com say note "$c4" --at 2026-11-22T08:25 "Lift company called: fault in the door sensor"
COMPLAINTCTL_ROOT="$scratch/bob" step sync
say sync
say show "$c4"
say verify && echo "(verify: every commit in the history is one the policy allowed)"

echo
echo "Audit trail (git log --oneline):"
git -C "$ws" log --oneline --graph -25
echo
echo "Demo workspace: $ws"
echo "Agreements to print: $scratch/out/"
ls "$scratch/out/"
