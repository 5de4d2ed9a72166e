"use strict";
// ipnsim console: plain JavaScript, no build step, nothing fetched from outside this hub.

const TEXT = {
  "title": ["情報提供ネットワーク シミュレーター コンソール", "Information-provision network simulator console"],
  "tab.flow": ["ライブフロー", "Live flow"], "tab.demos": ["ガイド付きデモ", "Guided demos"],
  "tab.terminal": ["中間サーバー接続端末", "Staff terminal"], "tab.person": ["本人の画面", "Person's view"],
  "tab.catalogue": ["カタログ・エラー", "Catalogue & errors"], "tab.map": ["ネットワーク図", "Network map"],
  "flow.intro": ["照会が届くたびに、各段階をシーケンス図で表示します。各段階が知るのは符号だけで、個人番号は現れません。",
    "Every inquiry appears as it happens, hop by hop. Each hop knows only its 符号 (pseudonym), never the My Number."],
  "demo.next": ["次へ", "Next"], "demo.done": ["デモは終了しました。", "The demo has ended."],
  "demo.start": ["開始", "Start"],
  "term.persona": ["ペルソナから入力", "Fill from a persona"], "term.agency": ["照会機関", "Requesting agency"],
  "term.atena": ["団体内統合宛名番号", "Atena number"], "term.procedure": ["事務手続", "Procedure"],
  "term.infotype": ["特定個人情報名", "Info type"], "term.provider": ["情報提供者", "Provider"],
  "term.year": ["年度（空欄は最新）", "Fiscal year (blank: latest)"], "term.send": ["照会を送信", "Send inquiry"],
  "term.mistaken": ["誤照会を申し出る", "Declare mistaken person"], "term.records": ["記録を見る", "Show records"],
  "person.pick": ["本人（ペルソナ）", "Person (persona)"], "person.show": ["やりとり履歴を表示", "Show exchanges"],
  "cat.procedures": ["事務手続と取得できる情報", "Procedures and obtainable information"],
  "cat.errors": ["エラー分類コード", "Error codes"], "cat.filter": ["絞り込み", "Filter"],
  "map.refresh": ["更新", "Refresh"],
  "lane.business": ["業務システム", "Business system"], "lane.requester": ["照会側中間サーバー", "Requester's intermediate server"],
  "lane.hub": ["情報提供ネットワークシステム", "Hub"], "lane.provider": ["提供側中間サーバー", "Provider's intermediate server"],
  "lane.replica": ["副本", "Replica"],
  "hop.received": ["照会（符号 {p}）", "inquiry (符号 {p})"], "hop.permitted": ["権限チェック OK", "permission check OK"],
  "hop.converted": ["符号変換 → {p}", "符号 conversion → {p}"], "hop.forwarded": ["提供要求（符号 {p}）", "provision request (符号 {p})"],
  "hop.replica": ["副本を検索", "look up replica"], "hop.provided": ["提供（{n} 項目）", "provided ({n} items)"],
  "hop.answered": ["結果 {s}", "result {s}"], "hop.order": ["照会指示", "inquiry order"],
  "hop.business": ["結果表示", "result shown"],
  "result.status": ["ステータス", "Status"], "result.error": ["エラー", "Error"], "result.items": ["項目", "Items"],
  "records.none": ["記録はありません。", "No records."], "addendum": ["追記", "Addendum"],
  "col.requested": ["照会日時", "Requested"], "col.requester": ["照会機関", "Requester"], "col.provider": ["提供機関", "Provider"],
  "col.infotype": ["特定個人情報名", "Info type"], "col.status": ["ステータス", "Status"],
  "map.agency": ["機関", "Agency"], "map.health": ["状態", "Health"], "map.fault": ["障害設定", "Fault in force"],
  "map.asked": ["照会件数", "Inquiries made"], "map.provided": ["提供件数", "Inquiries answered"],
  "map.errors": ["エラー件数", "Errors"], "map.hot": ["エラー多発箇所（7日）", "Error hot spots (7 days)"],
  "map.up": ["稼働", "up"], "map.down": ["停止", "down"],
  "clock.service": ["サービス", "Service"], "clock.now": ["模擬時計（日本時間）", "Simulated clock (Japan time)"],
  "clock.real": ["実時間", "real time"], "clock.hub": ["情報提供ネットワークシステム", "Hub"],
  "clock.unreached": ["時計を動かせない機関があります", "Could not move the clock of"],
  "clock.restored": ["模擬時計をデモ開始前に戻しました。", "The simulated clock is back as it was before the demo."],
};
let lang = localStorage.getItem("ipnsim-lang") || "ja";
function t(key, values) {
  const entry = TEXT[key]; let text = entry ? entry[lang === "ja" ? 0 : 1] : key;
  for (const [name, value] of Object.entries(values || {})) text = text.replace("{" + name + "}", value);
  return text;
}
function pick(ja, en) { return lang === "ja" ? ja : en; }
function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.getElementById("lang-toggle").textContent = lang === "ja" ? "English" : "日本語";
  renderAllFlows(); renderDemoList(); refreshLabels();
}
let refreshLabels = () => {};
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}
async function api(path, options) {
  const response = await fetch(path, options);
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) { const error = new Error(body?.code ? body.code + ": " + pick(body.message_ja, body.message_en) : String(response.status)); error.body = body; throw error; }
  return body;
}
function post(path, body, headers) {
  return api(path, { method: "POST", headers: { "content-type": "application/json", ...(headers || {}) }, body: JSON.stringify(body) });
}

// --- the live flow (server-sent events) -----------------------------------------------------
const flows = new Map(); // inquiry id -> hop events in order
const flowWatchers = new Map(); // inquiry id -> containers showing it
const errorCatalogue = new Map();
function connectEvents() {
  const state = document.getElementById("stream-state");
  const source = new EventSource("/v1/events");
  source.onopen = () => { state.dataset.state = "live"; state.textContent = "live"; };
  source.onerror = () => { state.dataset.state = "connecting"; state.textContent = "…"; };
  source.addEventListener("hop", (message) => {
    const event = JSON.parse(message.data);
    if (!flows.has(event.inquiry_id)) {
      flows.set(event.inquiry_id, []);
      const holder = el("div", { class: "flow", "data-inquiry": event.inquiry_id });
      document.getElementById("flow-list").prepend(holder);
      watchFlow(event.inquiry_id, holder);
      const list = document.getElementById("flow-list");
      while (list.children.length > 50) list.lastChild.remove();
    }
    flows.get(event.inquiry_id).push(event);
    for (const holder of flowWatchers.get(event.inquiry_id) || []) drawFlow(holder, event.inquiry_id);
  });
}
function watchFlow(inquiryId, holder) {
  if (!flowWatchers.has(inquiryId)) flowWatchers.set(inquiryId, []);
  flowWatchers.get(inquiryId).push(holder);
  holder.dataset.inquiry = inquiryId; holder.classList.add("flow");
  drawFlow(holder, inquiryId);
}
function renderAllFlows() { for (const [id, holders] of flowWatchers) for (const h of holders) drawFlow(h, id); }
function agencyName(code) {
  const agency = agencies.find((a) => a.code === code);
  return agency ? pick(agency.name_ja, agency.name_en) : code || "";
}
const LANES = ["business", "requester", "hub", "provider", "replica"];
function drawFlow(holder, inquiryId) {
  const events = flows.get(inquiryId) || [];
  const answered = events.find((e) => e.hop === "answered");
  const first = events[0] || {};
  holder.classList.toggle("error", Boolean(answered && answered.error_code));
  holder.replaceChildren(el("h3", {}, `${inquiryId} — ${first.requester_name || ""} → ${agencyName(first.provider_code)} ${first.info_type_code || ""}`));
  const arrows = [];
  let previous = 0;
  const add = (hop, from, to, label, at) => { arrows.push({ hop, from, to, label, ms: at - previous }); previous = at; };
  for (const e of events) {
    if (e.hop === "received") { add("order", "business", "requester", t("hop.order"), 0); add("received", "requester", "hub", t("hop.received", { p: e.requester_pseudonym }), e.elapsed_ms); }
    if (e.hop === "permitted") add("permitted", "hub", "hub", t("hop.permitted"), e.elapsed_ms);
    if (e.hop === "converted") add("converted", "hub", "hub", t("hop.converted", { p: e.provider_pseudonym }), e.elapsed_ms);
    if (e.hop === "forwarded") add("forwarded", "hub", "provider", t("hop.forwarded", { p: e.provider_pseudonym }), e.elapsed_ms);
    if (e.hop === "provided") { add("replica", "provider", "replica", t("hop.replica"), previous); add("provided", "provider", "hub", t("hop.provided", { n: e.items }), e.elapsed_ms); }
    if (e.hop === "answered") {
      const label = t("hop.answered", { s: e.status }) + (e.error_code ? ` ${e.error_code}: ${pick(e.error_message_ja, e.error_message_en)}` : "");
      add("answered", "hub", "requester", label, e.elapsed_ms); add("business", "requester", "business", t("hop.business"), e.elapsed_ms);
    }
  }
  const width = 900, laneWidth = width / LANES.length, top = 36, step = 30;
  const height = top + step * (arrows.length + 1);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`); svg.setAttribute("width", width); svg.setAttribute("height", height);
  const node = (tag, attrs, text) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); if (text !== undefined) n.textContent = text; svg.append(n); return n; };
  const x = (lane) => laneWidth * LANES.indexOf(lane) + laneWidth / 2;
  LANES.forEach((lane) => {
    node("text", { x: x(lane), y: 14, "text-anchor": "middle", class: "lane-title", "data-lane": lane }, t("lane." + lane));
    node("line", { x1: x(lane), y1: 20, x2: x(lane), y2: height, stroke: "#8899aa", "stroke-dasharray": "4 3" });
  });
  arrows.forEach((arrow, i) => {
    const y = top + step * i + 10;
    const g = document.createElementNS(ns, "g"); g.setAttribute("class", "hop"); g.setAttribute("data-hop", arrow.hop); svg.append(g);
    const isError = arrow.hop === "answered" && answered && answered.error_code;
    const colour = isError ? "#b00020" : "#12355b";
    const line = (attrs) => { const n = document.createElementNS(ns, "path"); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); g.append(n); };
    const label = (attrs, text) => { const n = document.createElementNS(ns, "text"); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); n.textContent = text; g.append(n); };
    if (arrow.from === arrow.to) {
      const cx = x(arrow.from);
      line({ d: `M${cx} ${y} h30 v10 h-30`, fill: "none", stroke: colour });
      label({ x: cx + 34, y: y + 8 }, `${arrow.label}  (${arrow.ms.toFixed(1)} ms)`);
    } else {
      const x1 = x(arrow.from), x2 = x(arrow.to), dir = x2 > x1 ? -1 : 1;
      line({ d: `M${x1} ${y} L${x2} ${y} M${x2} ${y} l${dir * 7} -4 M${x2} ${y} l${dir * 7} 4`, fill: "none", stroke: colour, "stroke-width": 1.5 });
      label({ x: (x1 + x2) / 2, y: y - 4, "text-anchor": "middle", class: isError ? "error-text" : "" }, `${arrow.label}  (${arrow.ms.toFixed(1)} ms)`);
    }
  });
  holder.append(svg);
}

// --- results and records ----------------------------------------------------------------------
function explain(code, error) {
  // The answer's own message (its values filled in) when there is one, else the catalogue's.
  const entry = errorCatalogue.get(code), message = error || entry;
  if (!entry) return error ? `${code}: ${pick(error.message_ja, error.message_en)}` : code;
  return `${code}: ${pick(message.message_ja, message.message_en)} — ${entry.cause} ${entry.remedy}`;
}
function resultView(result) {
  const box = el("div", { class: "result", "data-inquiry": result.inquiry_id });
  box.append(el("p", {}, `${t("result.status")}: ${result.status_detail}/${result.status_info_type}  (${result.inquiry_id})`));
  if (result.error) box.append(el("p", { class: "addendum" }, `${t("result.error")} ${explain(result.error.code, result.error)}`));
  if (result.items && result.items.length) {
    const table = el("table", {});
    for (const item of result.items) table.append(el("tr", {}, el("td", {}, item.code), el("td", {}, item.name_ja || ""), el("td", {}, JSON.stringify(item.value ?? ""))));
    box.append(el("p", {}, t("result.items")), table);
  }
  return box;
}
function recordsTable(records) {
  if (!records.length) return el("p", {}, t("records.none"));
  const table = el("table", { class: "records" }, el("tr", {}, ...["col.requested", "col.requester", "col.provider", "col.infotype", "col.status"].map((k) => el("th", {}, t(k)))));
  for (const r of records) {
    table.append(el("tr", {}, el("td", {}, r.requested_at), el("td", {}, r.requester_name), el("td", {}, r.provider_name),
      el("td", {}, r.info_type_code), el("td", {}, `${r.status_detail}/${r.status_info_type} ${r.error_code || ""}`)));
    for (const a of r.addenda || []) table.append(el("tr", { class: "addendum" }, el("td", { colspan: 5 }, `${t("addendum")} (${a.kind}): ${a.reason} — ${a.declared_at}`)));
  }
  return table;
}
function agencyPath(code, path) { return `/console/api/agencies/${code}/${path}`; }
function orderOf(inquiry) {
  return {
    atena_number: inquiry.atena_number, affair_code: inquiry.affair_code, procedure_code: inquiry.procedure_code,
    info_type_code: inquiry.info_type_code, provider_code: inquiry.provider_code, user_id: "console",
    condition: inquiry.fiscal_year ? { kind: "fiscal_year", fiscal_year: inquiry.fiscal_year } : { kind: "latest" },
  };
}

// --- the simulated clock (模擬時計) of the whole network ----------------------------------------
function japanTime(iso) {
  const when = new Date(iso.replace(/(\.\d{3})\d+/, "$1"));
  return when.toLocaleString("ja-JP", { timeZone: "Asia/Tokyo", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}
function clockTable(view) {
  const row = (name, clock) => el("tr", {}, el("td", {}, name),
    el("td", {}, clock ? japanTime(clock.now) + (clock.simulated ? "" : ` (${t("clock.real")})`) : "—"));
  return el("table", { class: "clock" }, el("tr", {}, el("th", {}, t("clock.service")), el("th", {}, t("clock.now"))),
    row(t("clock.hub"), view.hub), ...view.agencies.map((a) => row(pick(a.agency.name_ja, a.agency.name_en), a.clock)));
}
function checkedClock(view) {
  if (view.complete) return view;
  const missing = view.agencies.filter((a) => !a.clock).map((a) => `${pick(a.agency.name_ja, a.agency.name_en)} (${a.error ? a.error.code : "?"})`);
  throw new Error(`${t("clock.unreached")}: ${missing.join(", ")}`);
}
function clockRequest(setting, keepalive) {
  // PUT sets every clock of the network (to a time, or back to an offset); DELETE resets them.
  return setting ? { method: "PUT", keepalive, headers: { "content-type": "application/json" }, body: JSON.stringify(setting) } : { method: "DELETE", keepalive };
}
async function moveClock(setting) { return checkedClock(await api("/console/api/clock", clockRequest(setting, false))); }
function clockAsItWas(before) { return before.hub.simulated ? { offset_seconds: before.hub.offset_seconds } : null; }

// --- guided demos ------------------------------------------------------------------------------
let personas = { personas: [] };
const persona = (name) => personas.personas.find((p) => p.name === name);
function inquireAs(p, headers) { return post(agencyPath(p.inquiry.requester_code, "inquiries"), orderOf(p.inquiry), headers); }
const DEMOS = [
  { id: "moved_in", title: ["転入者の地方税情報照会", "Moved-in resident's local-tax inquiry"], steps: [
    { title: ["登場人物", "Who holds what"], text: (d) => [`${d.p.person_name} さんは1月1日に${d.p.inquiry.provider_slug}に住み、いまは${d.p.inquiry.requester_slug}に住んでいます。各機関は自分の符号しか知りません。`, `${d.p.person_name} lived in ${d.p.inquiry.provider_slug} on 1 January and now lives in ${d.p.inquiry.requester_slug}. Each agency knows only its own 符号.`],
      run: async (d) => { d.p = persona("moved_in"); } },
    { title: ["地方税情報を照会", "Inquire for local-tax information"], text: () => ["照会側が符号で照会し、ハブが権限を確認して符号を変換し、提供側が副本から回答します。", "The requester inquires by its 符号; the hub checks permission and converts the 符号; the provider answers from its replica."],
      run: async (d) => { d.result = await inquireAs(d.p); d.show(resultView(d.result)); d.flow(d.result.inquiry_id); } },
    { title: ["三つの記録", "The records"], text: () => ["照会側の中間サーバーに情報提供等の記録が残ります。", "The requester's intermediate server keeps the provision record."],
      run: async (d) => { d.show(recordsTable(await api(agencyPath(d.p.inquiry.requester_code, "records?inquiry_id=" + d.result.inquiry_id)))); } },
  ] },
  { id: "no_account", title: ["公金受取口座の登録がない", "No public-fund account"], steps: [
    { title: ["口座を照会", "Inquire for the account"], text: () => ["公金受取口座を登録していない人について照会します。", "An inquiry about a person who registered no public-fund account."],
      run: async (d) => { d.p = persona("no_account"); d.result = await inquireAs(d.p); d.show(resultView(d.result)); d.flow(d.result.inquiry_id); } },
    { title: ["結果の意味", "What the result means"], text: (d) => [`結果は ${d.result.status_detail}/${d.result.status_info_type}：該当する情報を保有していません。`, `The result is ${d.result.status_detail}/${d.result.status_info_type}: no such information is held.`],
      run: async () => {} },
  ] },
  { id: "namesake", title: ["誤照会と追記", "Mistaken-person inquiry and its addendum"], steps: [
    { title: ["別人への照会", "The wrong person"], text: () => ["職員が同姓同名の別人について照会してしまいます。", "Staff inquire about a namesake by mistake."],
      run: async (d) => { d.p = persona("namesake"); d.result = await inquireAs(d.p); d.show(resultView(d.result)); d.flow(d.result.inquiry_id); } },
    { title: ["誤照会を申し出る", "Declare the mistake"], text: () => ["照会側が誤照会を申し出ると、ハブと提供側の記録にも追記されます。", "The requester declares the mistake; an addendum is appended at the hub and the provider too."],
      run: async (d) => { d.show(el("pre", {}, JSON.stringify(await post(agencyPath(d.p.inquiry.requester_code, `inquiries/${d.result.inquiry_id}/mistaken`), { reason: "同姓同名の別人", declared_by_user: "console" }), null, 2))); } },
    { title: ["記録と追記", "Record with its addendum"], text: () => ["記録は変更されず、追記が添えられます。", "The record is never changed; the addendum accompanies it."],
      run: async (d) => { d.show(recordsTable(await api(agencyPath(d.p.inquiry.requester_code, "records?inquiry_id=" + d.result.inquiry_id)))); } },
  ] },
  { id: "manual_response_hold", title: ["自動応答不可（職員対応）", "Manual-response hold"], steps: [
    { title: ["照会が保留される", "The inquiry is held"], text: () => ["提供側が自動応答できない照会は職員の対応待ちになります。", "An inquiry the provider cannot answer automatically waits for its staff."],
      run: async (d) => { d.p = persona("manual_response_hold"); d.result = await inquireAs(d.p); d.show(resultView(d.result)); d.flow(d.result.inquiry_id); } },
    { title: ["職員が回答する", "Staff answer"], text: () => ["提供側の職員が保留中の照会に回答します。", "The provider's staff answer the held inquiry."],
      run: async (d) => { const answered = await post(agencyPath(d.p.inquiry.provider_code, `manual-responses/${d.result.inquiry_id}/answer`), { answered_by: "console" }); d.show(el("pre", {}, JSON.stringify(answered, null, 2))); } },
    { title: ["照会側に届いた結果", "The result reaches the requester"], text: () => ["ハブが最終結果を照会側に届け、照会側の記録が完了します。", "The hub delivers the final result to the requester, whose record is completed."],
      run: async (d) => {
        for (let attempt = 0; attempt < 20; attempt += 1) {
          d.final = await api(agencyPath(d.p.inquiry.requester_code, "inquiries/" + d.result.inquiry_id));
          if (d.final.status_detail !== d.result.status_detail) break;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        d.show(resultView(d.final));
        d.show(recordsTable(await api(agencyPath(d.p.inquiry.requester_code, "records?inquiry_id=" + d.result.inquiry_id))));
      } },
  ] },
  { id: "dependant_finder", title: ["扶養重複照会（シミュレーション）", "Duplicate-dependant finder (simulated)"], steps: [
    { title: ["登場人物", "Who is claimed where"], text: (d) => [`${d.p.person_name} さんは山形市に住む親です。小田原市と福岡市に住む子がそれぞれ扶養親族として申告しています。`, `${d.p.person_name} is a parent living in Yamagata; a child in Odawara and another in Fukuoka each claim them as a dependant.`],
      run: async (d) => { d.p = persona("dependant_claimed_in_two_others"); } },
    { title: ["他の市町村に問い合わせる", "Ask the other municipalities"], text: () => ["山形市がハブを通じて、本人を知るすべての市町村に「扶養親族として申告されているか」だけを尋ねます。", "Yamagata asks, through the hub, every municipality that knows the person only whether they are claimed as a dependant."],
      run: async (d) => {
        d.claims = await post(agencyPath(d.p.inquiry.requester_code, "dependant-claims"), { atena_number: d.p.inquiry.atena_number, fiscal_year: d.p.inquiry.fiscal_year, user_id: "console" });
        const row = (m, answer) => el("tr", {}, el("td", {}, m.name_ja), el("td", {}, m.code), el("td", {}, answer));
        d.show(el("table", {}, el("tr", {}, el("th", {}, pick("市町村", "Municipality")), el("th", {}, pick("機関コード", "Code")), el("th", {}, pick("回答", "Answer"))),
          ...d.claims.claimed_by.map((m) => row(m, pick("申告有り", "claimed"))), ...d.claims.not_claimed_by.map((m) => row(m, pick("申告無し", "not claimed")))));
        if (d.claims.claimed_by.length) d.flow(d.claims.claimed_by[0].inquiry_id);
      } },
    { title: ["分かること・分からないこと", "What is learnt, and what is not"], text: (d) => [`申告している市町村は ${d.claims.claimed_by.map((m) => m.name_ja).join("・")} です。納税義務者が誰かは回答されません。やりとりは照会ごとに三か所に記録されます。`, `Claimed in ${d.claims.claimed_by.map((m) => m.name_ja).join(", ")}. Who the taxpayers are is never answered; each exchange is recorded at all three places.`],
      run: async () => {} },
  ] },
  { id: "june_release", title: ["6月の住民税当初課税（公開日前後の照会）", "The June tax release (before and after the release date)"],
    restore: async (d) => { await moveClock(clockAsItWas(d.clockBefore)); },
    steps: [
    { title: ["5月25日の山形市", "Yamagata on 25 May"], text: (d) => [`山形市は介護保険料の賦課のため、${d.p.person_name} さんの${d.year}年度の住民税情報を小田原市に照会します。小田原市は春に住民税を賦課し、6月に当初課税の結果を公開します。ネットワーク全体の模擬時計を${d.year}年5月25日に合わせました。`, `Yamagata fixes ${d.p.person_name}'s long-term care premium (介護保険) from Odawara's local tax of fiscal year ${d.year}. Odawara assesses inhabitant tax in spring and releases it in June. The simulated clock of the whole network is now 25 May ${d.year}.`],
      run: async (d) => {
        d.p = persona("moved_in"); d.year = d.p.inquiry.fiscal_year;
        const care = procedures.find((p) => p.code === "JT02310000000214");
        d.order = { ...d.p.inquiry, affair_code: care.affair.code, procedure_code: care.code };
        d.clockBefore = checkedClock(await api("/console/api/clock"));
        d.show(clockTable(await moveClock({ now: `${d.year}-05-25T09:00:00+09:00` })));
      } },
    { title: ["公開日前に照会する", "Ask before the release date"], text: (d) => [`${d.year}年度の住民税はまだ公開されていないため、提供側は RPL010 で回答します（再照会可能：公開日以降に照会し直します）。`, `Fiscal year ${d.year}'s local tax is not released yet: the provider answers RPL010 (retryable: ask again on or after the release date).`],
      run: async (d) => { d.early = await post(agencyPath(d.order.requester_code, "inquiries"), orderOf(d.order)); d.show(resultView(d.early)); d.flow(d.early.inquiry_id); } },
    { title: ["公開日を過ぎる", "Past the release date"], text: (d) => [`模擬時計を公開日 ${d.released} の朝に進めます。`, `The simulated clock moves on to the morning of the release date, ${d.released}.`],
      run: async (d) => {
        const named = d.early.error && /\d{4}-\d{2}-\d{2}/.exec(d.early.error.message_en);
        d.released = named ? named[0] : `${d.year}-06-01`;
        d.show(clockTable(await moveClock({ now: `${d.released}T08:30:00+09:00` })));
      } },
    { title: ["同じ照会をもう一度", "The same inquiry again"], text: (d) => [`同じ照会に、提供側は副本の${d.year}年度の住民税情報で回答します。`, `The same inquiry now gets fiscal year ${d.year}'s local tax from the provider's replica.`],
      run: async (d) => { d.result = await post(agencyPath(d.order.requester_code, "inquiries"), orderOf(d.order)); d.show(resultView(d.result)); d.flow(d.result.inquiry_id); } },
    { title: ["時計を元に戻す", "The clock put back"], text: () => ["模擬時計をデモ開始前の状態に戻しました。", "The simulated clock is back as it was before the demo."],
      run: async (d) => { d.show(clockTable(await moveClock(clockAsItWas(d.clockBefore)))); d.restored = true; } },
  ] },
  { id: "provider_down", title: ["提供側の停止", "Provider down"], steps: [
    { title: ["提供側に接続できない", "The provider cannot be reached"], text: () => ["提供側の中間サーバーが停止していると、ハブはエラーを記録して返します。", "When the provider's intermediate server is down, the hub records and returns an error."],
      run: async (d) => { d.p = persona("moved_in"); d.result = await inquireAs(d.p, { "X-Ipnsim-Force-Outcome": "AVL001" }); d.show(resultView(d.result)); d.flow(d.result.inquiry_id); } },
    { title: ["エラーの意味", "What the error means"], text: (d) => [explain(d.result.error ? d.result.error.code : ""), explain(d.result.error ? d.result.error.code : "")],
      run: async () => {} },
  ] },
];
let activeDemo = null;
function renderDemoList() {
  const list = document.getElementById("demo-list"); if (!list) return;
  list.replaceChildren(...DEMOS.map((demo) => el("div", { class: "demo-card" }, el("strong", {}, pick(...demo.title)), " ",
    el("button", { type: "button", "data-demo": demo.id, onclick: () => startDemo(demo) }, t("demo.start")))));
  if (activeDemo) showDemoStep();
}
async function abandonDemo() {
  // A demo that moved something of the network (the clock) puts it back before it is left.
  const demo = activeDemo; if (!demo || !demo.demo.restore || !demo.data.clockBefore || demo.data.restored) return;
  demo.data.restored = true;
  try { await demo.demo.restore(demo.data); demo.data.show(el("p", { class: "restored" }, t("clock.restored"))); }
  catch (error) { demo.data.show(el("p", { class: "addendum step-failed" }, String(error.message))); }
}
async function startDemo(demo) {
  await abandonDemo();
  const output = document.getElementById("demo-output"), flowBox = document.getElementById("demo-flow");
  output.replaceChildren(); flowBox.replaceChildren();
  activeDemo = { demo, index: -1, data: {
    show: (node) => output.append(node),
    flow: (id) => { const holder = el("div", {}); flowBox.append(holder); watchFlow(id, holder); },
  } };
  document.getElementById("demo-stage").hidden = false;
  document.getElementById("demo-done").hidden = true;
  document.getElementById("demo-next").disabled = false;
  document.getElementById("demo-title").textContent = pick(...demo.title);
  nextStep();
}
async function nextStep() {
  const demo = activeDemo; const button = document.getElementById("demo-next");
  demo.index += 1; button.disabled = true;
  let failed = false;
  try { await demo.demo.steps[demo.index].run(demo.data); } catch (error) { failed = true; demo.data.show(el("p", { class: "addendum step-failed" }, String(error.message))); }
  if (failed && demo.demo.restore) await abandonDemo(); // a failed step ends such a demo
  showDemoStep();
  const last = demo.index === demo.demo.steps.length - 1 || (failed && Boolean(demo.demo.restore));
  button.disabled = last; document.getElementById("demo-done").hidden = !last;
}
function showDemoStep() {
  const step = activeDemo.demo.steps[activeDemo.index]; if (!step) return;
  document.getElementById("demo-title").textContent = pick(...activeDemo.demo.title);
  document.getElementById("demo-step-title").textContent = `${activeDemo.index + 1}/${activeDemo.demo.steps.length} ${pick(...step.title)}`;
  document.getElementById("demo-narration").textContent = pick(...step.text(activeDemo.data));
}

// --- the terminal, the person's view, the catalogue, the map -----------------------------------
let agencies = [], procedures = [];
async function setupTerminal() {
  const [agencyList, procedureList] = await Promise.all([api("/v1/agencies"), api("/v1/catalogue/procedures")]);
  agencies = agencyList; procedures = procedureList;
  const option = (value, text) => el("option", { value }, text);
  const fillAgencies = () => {
    for (const id of ["term-agency", "term-provider"]) {
      const select = document.getElementById(id), chosen = select.value;
      select.replaceChildren(...agencies.map((a) => option(a.code, `${pick(a.name_ja, a.name_en)} (${a.code})`))); if (chosen) select.value = chosen;
    }
    const procedure = document.getElementById("term-procedure"), chosen = procedure.value;
    procedure.replaceChildren(...procedures.map((p) => option(p.code, `${p.code} ${pick(p.name_ja, p.name_en)}`))); if (chosen) procedure.value = chosen;
    fillInfoTypes();
    for (const id of ["term-persona", "person-pick"]) {
      const select = document.getElementById(id), chosen = select.value;
      select.replaceChildren(option("", "—"), ...personas.personas.filter((p) => p.inquiry).map((p) => option(p.name, `${p.name}: ${p.person_name} — ${pick(p.demonstrates_ja, p.demonstrates_en)}`)));
      select.value = chosen;
    }
  };
  const fillInfoTypes = (wanted) => {
    const procedure = procedures.find((p) => p.code === document.getElementById("term-procedure").value);
    const select = document.getElementById("term-infotype"), chosen = wanted || select.value;
    select.replaceChildren(...(procedure ? procedure.obtainable : []).map((i) => option(i.code, `${i.code} ${pick(i.name_ja, i.name_en)}`)));
    if (chosen) select.value = chosen;
  };
  refreshLabels = fillAgencies; fillAgencies();
  document.getElementById("term-procedure").addEventListener("change", () => fillInfoTypes());
  document.getElementById("term-persona").addEventListener("change", (event) => {
    const p = persona(event.target.value); if (!p) return;
    document.getElementById("term-agency").value = p.inquiry.requester_code;
    document.getElementById("term-atena").value = p.inquiry.atena_number;
    document.getElementById("term-procedure").value = p.inquiry.procedure_code; fillInfoTypes(p.inquiry.info_type_code);
    document.getElementById("term-provider").value = p.inquiry.provider_code;
    document.getElementById("term-year").value = p.inquiry.fiscal_year || "";
  });
  let last = null;
  document.getElementById("terminal-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.getElementById("term-result"), requester = document.getElementById("term-agency").value;
    const procedure = procedures.find((p) => p.code === document.getElementById("term-procedure").value);
    const year = document.getElementById("term-year").value;
    const order = orderOf({ atena_number: document.getElementById("term-atena").value, affair_code: procedure.affair.code, procedure_code: procedure.code,
      info_type_code: document.getElementById("term-infotype").value, provider_code: document.getElementById("term-provider").value, fiscal_year: year ? Number(year) : null });
    try {
      const result = await post(agencyPath(requester, "inquiries"), order);
      last = { requester, result }; out.replaceChildren(resultView(result));
      document.getElementById("term-actions").hidden = false;
      const holder = el("div", {}); document.getElementById("term-flow").replaceChildren(holder); watchFlow(result.inquiry_id, holder);
    } catch (error) { out.replaceChildren(el("p", { class: "addendum" }, error.message)); }
  });
  document.getElementById("term-records").addEventListener("click", async () => {
    const records = await api(agencyPath(last.requester, "records?inquiry_id=" + last.result.inquiry_id));
    document.getElementById("term-records-out").replaceChildren(recordsTable(records));
  });
  document.getElementById("term-mistaken").addEventListener("click", async () => {
    try {
      await post(agencyPath(last.requester, `inquiries/${last.result.inquiry_id}/mistaken`), { reason: document.getElementById("term-reason").value, declared_by_user: "console" });
      document.getElementById("term-records").click();
    } catch (error) { document.getElementById("term-records-out").replaceChildren(el("p", { class: "addendum" }, error.message)); }
  });
  document.getElementById("person-show").addEventListener("click", async () => {
    const p = persona(document.getElementById("person-pick").value); const out = document.getElementById("person-out"); if (!p) return;
    try { out.replaceChildren(recordsTable((await api(agencyPath(p.inquiry.requester_code, `people/${p.inquiry.atena_number}/disclosure`))).records)); }
    catch (error) { out.replaceChildren(el("p", { class: "addendum" }, error.message)); }
  });
}
async function setupCatalogue() {
  const errors = await api("/v1/errors");
  for (const entry of errors) errorCatalogue.set(entry.code, entry);
  const draw = () => {
    const filter = document.getElementById("cat-filter").value.toLowerCase();
    const table = el("table", {});
    for (const p of procedures) {
      const text = `${p.code} ${p.name_ja} ${p.name_en}`;
      if (filter && !text.toLowerCase().includes(filter)) continue;
      table.append(el("tr", {}, el("td", {}, p.code), el("td", {}, pick(p.name_ja, p.name_en)),
        el("td", {}, p.obtainable.map((i) => `${i.code} ${pick(i.name_ja, i.name_en)} ← ${i.provider_kinds.join(", ")}`).join("\n"))));
    }
    document.getElementById("cat-procedures").replaceChildren(table);
    const errorTable = el("table", { id: "error-table" });
    for (const e of errors) errorTable.append(el("tr", { "data-code": e.code }, el("td", {}, e.code), el("td", {}, `${e.origin} / ${e.category}`), el("td", {}, pick(e.message_ja, e.message_en)), el("td", {}, e.cause), el("td", {}, e.remedy)));
    document.getElementById("cat-errors").replaceChildren(errorTable);
  };
  document.getElementById("cat-filter").addEventListener("input", draw);
  const previous = refreshLabels; refreshLabels = () => { previous(); draw(); };
  draw();
}
async function drawMap() {
  const out = document.getElementById("map-out");
  try {
    const map = await api("/console/api/network");
    const table = el("table", { id: "map-table" }, el("tr", {}, ...["map.agency", "map.health", "map.fault", "map.asked", "map.provided", "map.errors"].map((k) => el("th", {}, t(k)))));
    for (const a of map.agencies) table.append(el("tr", { "data-agency": a.agency.code }, el("td", {}, `${pick(a.agency.name_ja, a.agency.name_en)} (${a.agency.code})`),
      el("td", { class: a.healthy ? "up" : "down" }, t(a.healthy ? "map.up" : "map.down")), el("td", {}, a.fault ? JSON.stringify(a.fault) : ""),
      el("td", {}, a.inquiries_as_requester), el("td", {}, a.inquiries_as_provider), el("td", {}, a.errors_as_provider)));
    const hot = el("table", {}, ...map.hot_spots.map((s) => el("tr", {}, el("td", {}, s.provider_code), el("td", {}, explain(s.error_code)), el("td", {}, s.count))));
    out.replaceChildren(table, el("h3", {}, t("map.hot")), hot);
  } catch (error) { out.replaceChildren(el("p", { class: "addendum" }, error.message)); }
}

document.addEventListener("DOMContentLoaded", async () => {
  document.querySelectorAll("nav button").forEach((button) => button.addEventListener("click", () => {
    document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b === button));
    document.querySelectorAll(".tab").forEach((tab) => tab.classList.toggle("active", tab.id === "tab-" + button.dataset.tab));
    if (button.dataset.tab === "map") drawMap();
  }));
  document.getElementById("lang-toggle").addEventListener("click", () => { lang = lang === "ja" ? "en" : "ja"; localStorage.setItem("ipnsim-lang", lang); applyLanguage(); });
  document.getElementById("demo-next").addEventListener("click", nextStep);
  document.getElementById("map-refresh").addEventListener("click", drawMap);
  window.addEventListener("pagehide", () => {
    const demo = activeDemo; if (!demo || !demo.demo.restore || !demo.data.clockBefore || demo.data.restored) return;
    demo.data.restored = true;
    fetch("/console/api/clock", clockRequest(clockAsItWas(demo.data.clockBefore), true));
  });
  connectEvents();
  personas = await api("/v1/personas");
  await setupTerminal(); await setupCatalogue();
  applyLanguage();
  document.body.dataset.ready = "true";
});
