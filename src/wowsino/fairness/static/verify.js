// WOWsino's public verifier: recomputes a provably fair draw in the browser with Web
// Crypto (SHA-256 and HMAC-SHA256), step by step as docs/fairness.md defines it, and
// says whether the published result follows. Our own code; it calls no server.

const U32 = 2 ** 32;
const utf8 = new TextEncoder();

class InputError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function seedBytes(text) {
  const seed = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(seed)) {
    throw new InputError("server_seed", "The server seed is 64 hexadecimal characters (32 bytes).");
  }
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i += 1) bytes[i] = parseInt(seed.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function integers(field, text, { min = 0, max = U32 } = {}) {
  const parts = text.split(",").map((p) => p.trim()).filter((p) => p !== "");
  return parts.map((p) => {
    if (!/^\d+$/.test(p) || Number(p) < min || Number(p) > max) {
      throw new InputError(field, `“${p}” is not a whole number from ${min} to ${max}.`);
    }
    return Number(p);
  });
}

function integer(field, text, options) {
  const values = integers(field, text, options);
  if (values.length !== 1) throw new InputError(field, "Give one whole number.");
  return values[0];
}

async function sha256Hex(bytes) {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

// The canonical JSON the table hash covers: keys sorted, no whitespace, UTF-8; amounts
// written as decimal strings.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

// HMAC-SHA256(key = seed bytes, message = "<client_seed>:<round>"), rounds concatenated.
class ByteStream {
  constructor(key, clientSeed) {
    this.key = key;
    this.clientSeed = clientSeed;
    this.round = 0;
    this.buffer = new Uint8Array(0);
    this.blocks = [];
  }

  async read(n) {
    while (this.buffer.length < n) {
      const message = `${this.clientSeed}:${this.round}`;
      const block = new Uint8Array(await crypto.subtle.sign("HMAC", this.key, utf8.encode(message)));
      this.blocks.push({ message, hex: toHex(block) });
      const joined = new Uint8Array(this.buffer.length + block.length);
      joined.set(this.buffer);
      joined.set(block, this.buffer.length);
      this.buffer = joined;
      this.round += 1;
    }
    const out = this.buffer.slice(0, n);
    this.buffer = this.buffer.slice(n);
    return out;
  }
}

// uniform_int(n): a big-endian u32 u, kept when u < 2^32 − (2^32 mod n), as u mod n.
async function uniformInt(stream, n, reads) {
  if (!Number.isInteger(n) || n < 1 || n > U32) throw new Error(`uniform_int needs 1 ≤ n ≤ 2^32, not ${n}`);
  const limit = U32 - (U32 % n);
  for (;;) {
    const bytes = await stream.read(4);
    const u = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
    const kept = u < limit;
    reads.push({ bytes: toHex(bytes), u, limit, kept, value: kept ? u % n : null });
    if (kept) return u % n;
  }
}

function field(form, name) {
  const element = form.elements.namedItem(name);
  return element ? element.value : "";
}

async function verify(form) {
  const steps = [];
  const game = form.querySelector("input[name=game]:checked")?.value || "weighted";
  const seed = seedBytes(field(form, "server_seed"));
  const clientSeed = field(form, "client_seed");
  if (clientSeed === "") throw new InputError("client_seed", "Give the client seed.");

  // 1. the commitment
  const committed = field(form, "server_seed_hash").trim().toLowerCase();
  const computedHash = await sha256Hex(seed);
  steps.push({
    title: "Commitment: SHA-256 of the 32 seed bytes is the hash published before the draw",
    ok: committed === "" ? null : committed === computedHash,
    lines: [["computed", computedHash], ["published", committed || "(not given: not checked)"]],
  });

  const key = await crypto.subtle.importKey("raw", seed, { name: "HMAC", hash: "SHA-256" },
    false, ["sign"]);
  const stream = new ByteStream(key, clientSeed);
  const reads = [];
  const published = field(form, "index").trim();
  const expected = published === "" ? null
    : integer("index", published, { max: game === "mystery" ? Number.MAX_SAFE_INTEGER : U32 });
  let result;
  let resultLabel;

  if (game === "mystery") {
    const safe = Number.MAX_SAFE_INTEGER;
    const low = integer("range_from", field(form, "range_from"), { max: safe });
    const high = integer("range_to", field(form, "range_to"), { max: safe });
    const n = high - low;
    if (n < 1 || n > U32) {
      throw new InputError("range_to", "The must-drop amount exceeds the round's seed by 1 to 2^32 minor units.");
    }
    const r = await uniformInt(stream, n, reads);
    result = low + 1 + r;
    steps.push(streamStep(stream));
    steps.push(uniformStep(reads, n));
    steps.push({ title: "Mapping: the drop point is the round's seed + 1 + r, in (seed, must-drop]",
      ok: null, lines: [["drop point", `${low} + 1 + ${r} = ${result} minor units`]] });
    resultLabel = `drop point ${result}`;
  } else if (game === "raffle") {
    let tickets = field(form, "tickets").trim() === "" ? null
      : integer("tickets", field(form, "tickets"), { min: 1, max: U32 });
    const listText = field(form, "ticket_list");
    let ranges = null;
    if (listText !== "") {
      const listHash = await sha256Hex(utf8.encode(listText));
      steps.push({
        title: "Ticket list: its SHA-256 is the client seed",
        ok: listHash === clientSeed.trim().toLowerCase(),
        lines: [["computed", listHash], ["client seed", clientSeed]],
      });
      try {
        ranges = JSON.parse(listText);
      } catch {
        throw new InputError("ticket_list", "The ticket list is not JSON.");
      }
      if (!Array.isArray(ranges)) throw new InputError("ticket_list", "The ticket list is a JSON array.");
      const listed = ranges.reduce((sum, r) => sum + Number(r && r.tickets), 0);
      if (!Number.isInteger(listed) || listed < 1 || listed > U32) {
        throw new InputError("ticket_list", "The ticket list's ranges must hold from 1 to 2^32 tickets in all.");
      }
      if (tickets !== null && tickets !== listed) {
        steps.push({ title: "Ticket count: the list's tickets are the total given", ok: false,
          lines: [["in the list", String(listed)], ["given", String(tickets)]] });
      }
      tickets = listed;
    }
    if (tickets === null) throw new InputError("tickets", "Give the total number of tickets.");
    const skipped = integers("skipped", field(form, "skipped"), { max: U32 });
    const drawn = [];
    for (let i = 0; i <= skipped.length; i += 1) drawn.push(await uniformInt(stream, tickets, reads));
    result = drawn[drawn.length - 1];
    steps.push(streamStep(stream));
    steps.push(uniformStep(reads, tickets));
    if (skipped.length) {
      steps.push({ title: "Skipped tickets: the stream's first draws are the published skipped tickets",
        ok: skipped.every((t, i) => t === drawn[i]),
        lines: [["drawn", drawn.slice(0, -1).join(", ")], ["published", skipped.join(", ")]] });
    }
    const lines = [["winning ticket", `${result} of ${tickets} (numbered from 0)`]];
    if (ranges) {
      const holder = ranges.find((r) => Number(r.first_ticket_idx) <= result
        && result < Number(r.first_ticket_idx) + Number(r.tickets));
      lines.push(["holder", holder ? String(holder.holder_id) : "(no range holds it)"]);
    }
    resultLabel = `ticket ${result}`;
    steps.push({ title: "Result: the winning ticket", ok: null, lines });
  } else {
    let weights = field(form, "weights").trim() === "" ? null
      : integers("weights", field(form, "weights"), { max: 1e9 });
    const tableText = field(form, "prize_table").trim();
    let table = null;
    if (tableText !== "") {
      try {
        table = JSON.parse(tableText);
      } catch {
        throw new InputError("prize_table", "The prize table is not JSON.");
      }
      if (!Array.isArray(table) || table.length === 0) {
        throw new InputError("prize_table", "The prize table is a JSON array of segments.");
      }
      const hashed = table.map((s) => ({ ...s, amount: String(s.amount) }));
      const tableHash = await sha256Hex(utf8.encode(canonical(hashed)));
      const publishedTableHash = field(form, "prize_table_hash").trim().toLowerCase();
      steps.push({
        title: "Prize table: SHA-256 of its canonical JSON is the published table hash",
        ok: publishedTableHash === "" ? null : tableHash === publishedTableHash,
        lines: [["canonical JSON", canonical(hashed)], ["computed", tableHash],
          ["published", publishedTableHash || "(not given: not checked)"]],
      });
      const fromTable = table.map((s, i) => {
        const weight = s && typeof s === "object" ? s.weight : undefined;
        if (!Number.isInteger(weight) || weight < 0 || weight > 1e9) {
          throw new InputError("prize_table", `Segment ${i}: the weight is a whole number from 0 to 1000000000.`);
        }
        return weight;
      });
      if (weights !== null && weights.join(",") !== fromTable.join(",")) {
        steps.push({ title: "Weights: the table's weights are the weights given", ok: false,
          lines: [["table", fromTable.join(", ")], ["given", weights.join(", ")]] });
      }
      weights = fromTable;
    }
    if (weights === null || weights.length === 0) {
      throw new InputError("weights", "Give the weights (or the prize table).");
    }
    const total = weights.reduce((a, b) => a + b, 0);
    if (total <= 0 || total > U32) {
      throw new InputError("weights", "The weights must sum to between 1 and 2^32.");
    }
    const r = await uniformInt(stream, total, reads);
    steps.push(streamStep(stream));
    steps.push(uniformStep(reads, total));
    let cumulative = 0;
    const walk = [];
    for (let i = 0; i < weights.length; i += 1) {
      cumulative += weights[i];
      const label = table ? ` (${table[i].segment_label})` : "";
      walk.push([`segment ${i}${label}`, `weight ${weights[i]}, cumulative ${cumulative}`
        + (r < cumulative ? ` > r = ${r}: wins` : "")]);
      if (r < cumulative) {
        result = i;
        break;
      }
    }
    resultLabel = `index ${result}${table ? ` (${table[result].segment_label})` : ""}`;
    steps.push({ title: "Mapping: walk the table in order; the first segment whose cumulative weight exceeds r wins",
      ok: null, lines: walk });
  }

  if (expected !== null) {
    steps.push({ title: "Published result: the recomputed result is the one published",
      ok: expected === result,
      lines: [["recomputed", resultLabel],
        ["published", `${{ raffle: "ticket", mystery: "drop point" }[game] || "index"} ${expected}`]] });
  }
  return { steps, resultLabel, expected, committed };
}

function streamStep(stream) {
  return {
    title: "Byte stream: HMAC-SHA256(key = the 32 seed bytes, message = \"<client_seed>:<round>\")",
    ok: null,
    lines: stream.blocks.map((b) => [`“${b.message}”`, b.hex]),
  };
}

function uniformStep(reads, n) {
  const limit = reads[0].limit;
  return {
    title: `Number: uniform_int(${n}) reads 4 bytes as a big-endian u32 u, kept when u < ${limit}, as u mod ${n}`,
    ok: null,
    lines: reads.map((read) => [read.bytes, read.kept
      ? `u = ${read.u} < ${limit}: kept, r = ${read.u} mod ${n} = ${read.value}`
      : `u = ${read.u} ≥ ${limit}: rejected, read the next 4 bytes`]),
  };
}

function show(result) {
  const section = document.getElementById("result");
  const verdict = document.getElementById("verdict");
  const list = document.getElementById("steps");
  list.replaceChildren();
  for (const step of result.steps) {
    const item = document.createElement("li");
    item.className = step.ok === true ? "pass" : step.ok === false ? "fail" : "info";
    const title = document.createElement("h3");
    const mark = step.ok === true ? "✓ " : step.ok === false ? "✗ " : "";
    title.textContent = mark + step.title;
    item.append(title);
    const rows = document.createElement("dl");
    for (const [name, value] of step.lines) {
      const term = document.createElement("dt");
      term.textContent = name;
      const data = document.createElement("dd");
      const code = document.createElement("code");
      code.textContent = value;
      data.append(code);
      rows.append(term, data);
    }
    item.append(rows);
    list.append(item);
  }
  const failed = result.steps.filter((s) => s.ok === false);
  if (failed.length) {
    verdict.className = "verdict fail";
    verdict.textContent = `✗ Does not verify: ${failed.map((s) => s.title.split(":")[0]).join(", ")} failed.`;
  } else if (result.expected === null) {
    verdict.className = "verdict info";
    verdict.textContent = `Recomputed ${result.resultLabel}; no published result was given to compare.`;
  } else if (result.committed === "") {
    verdict.className = "verdict info";
    verdict.textContent = `The published ${result.resultLabel} follows from the seeds, but the commitment was not checked (no server seed hash given).`;
  } else {
    verdict.className = "verdict pass";
    verdict.textContent = `✓ Verified: the published ${result.resultLabel} follows from the committed server seed and the client seed.`;
  }
  section.hidden = false;
}

function refuse(message, form, fieldName) {
  const section = document.getElementById("result");
  document.getElementById("steps").replaceChildren();
  const verdict = document.getElementById("verdict");
  verdict.className = "verdict fail";
  verdict.textContent = `✗ Cannot verify: ${message}`;
  section.hidden = false;
  const input = fieldName ? form.elements.namedItem(fieldName) : null;
  if (input && typeof input.focus === "function") {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

function showGame(form) {
  const game = form.querySelector("input[name=game]:checked")?.value || "weighted";
  for (const part of form.querySelectorAll(".weighted-only")) part.hidden = game !== "weighted";
  for (const part of form.querySelectorAll(".raffle-only")) part.hidden = game !== "raffle";
  for (const part of form.querySelectorAll(".mystery-only")) part.hidden = game !== "mystery";
}

async function run(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (!globalThis.crypto || !crypto.subtle) {
    refuse("this browser offers no Web Crypto here (it needs a page served over HTTPS).", form);
    return;
  }
  try {
    show(await verify(form));
  } catch (error) {
    if (error instanceof InputError) refuse(error.message, form, error.field);
    else refuse(String(error.message || error), form);
  }
}

function start() {
  const form = document.getElementById("verify-form");
  if (!form) return;
  showGame(form);
  for (const radio of form.querySelectorAll("input[name=game]")) {
    radio.addEventListener("change", () => showGame(form));
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(form);
  });
  if (form.dataset.autorun) run(form);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
