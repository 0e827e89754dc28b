// The prize-table editor's live odds: as the operator types, the expected value per draw
// and the RTP of the table in the form are shown beside it. Only a convenience: the
// "Preview" button prices the table on the server (engines.prizes.odds), and saving
// validates it there. Exact integer arithmetic, rounded half to even to two decimals as
// the server rounds.
"use strict";

(function () {
  const form = document.querySelector("form.editor");
  const out = document.getElementById("live-odds");
  if (!form || !out) return;

  // A non-negative decimal as [integer scaled by 10^places, places], or null.
  function decimal(text) {
    const clean = text.replace(/,/g, "").trim();
    if (!/^\d+(\.\d+)?$/.test(clean)) return null;
    const [whole, frac = ""] = clean.split(".");
    return [BigInt(whole + frac), frac.length];
  }

  // numerator / denominator to two decimals, half to even, as a string with separators.
  function hundredths(numerator, denominator) {
    const scaled = numerator * 100n;
    let q = scaled / denominator;
    const r = scaled % denominator;
    if (2n * r > denominator || (2n * r === denominator && q % 2n === 1n)) q += 1n;
    const units = (q / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return units + "." + (q % 100n).toString().padStart(2, "0");
  }

  function recalculate() {
    const rows = Number(form.elements.rows.value);
    let total = 0n;
    const sums = { WINZ: [0n, 0], XP: [0n, 0] };  // Σ weight × amount, at the widest scale
    const terms = [];
    for (let i = 0; i < rows; i++) {
      if (!form.elements["label_" + i].value.trim()) continue;
      const weight = form.elements["weight_" + i].value.trim();
      const amount = decimal(form.elements["amount_" + i].value || "0");
      if (!/^\d{1,10}$/.test(weight) || amount === null) return null;
      total += BigInt(weight);
      terms.push([form.elements["asset_" + i].value, BigInt(weight), amount]);
    }
    if (total === 0n) return null;
    for (const [asset, weight, [value, places]] of terms) {
      const sum = sums[asset];
      if (!sum) return null;
      const scale = Math.max(sum[1], places);
      sum[0] = sum[0] * 10n ** BigInt(scale - sum[1]) + weight * value * 10n ** BigInt(scale - places);
      sum[1] = scale;
    }
    const cost = decimal(form.elements.cost_winz.value || "0");
    if (cost === null) return null;
    const ev = (asset) => hundredths(sums[asset][0], total * 10n ** BigInt(sums[asset][1]));
    let text = "Expected value per draw: " + ev("WINZ") + " WINZ";
    if (sums.XP[0] > 0n) text += " and " + ev("XP") + " XP";
    if (cost[0] > 0n) {
      const [w, wp] = sums.WINZ;
      const rtp = hundredths(w * 100n * 10n ** BigInt(cost[1]), total * cost[0] * 10n ** BigInt(wp));
      text += ", RTP " + rtp + " %";
    }
    return text;
  }

  function show() {
    const text = recalculate();
    out.textContent = text === null ? "Fill every prize's weight and amount to see its odds."
                                    : "As typed — " + text + " (not saved).";
  }

  out.hidden = false;
  form.addEventListener("input", show);
  form.addEventListener("change", show);
  show();
})();
