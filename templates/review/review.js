// The review page's script (grader/review): views built from the JSON API. Every string from the server goes in
// through textContent; the only HTML inserted is the answer and prompt that the server rendered and sanitized.
"use strict";

(() => {
  const meta = document.querySelector('meta[name="review-token"]');
  const TOKEN = meta.content;
  const HEADER = meta.dataset.header;
  const NAME_KEY = "grader-review-ta";
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const state = {
    who: localStorage.getItem(NAME_KEY) || "", question: null, answers: [], index: 0, form: null, busy: false,
    dirty: false, // the form differs from what is saved: leaving the answer asks first
    stale: true, // the answer list must be fetched again (grouping it costs the server: not at every step)
  };

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (typeof value === "boolean") node[key] = value;
      else node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  async function call(path, body) {
    const options = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json", [HEADER]: TOKEN },
      body: JSON.stringify(body),
    };
    try {
      const response = await fetch(path, options);
      const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
      return { status: response.status, data };
    } catch (error) {
      return { status: 0, data: { error: `the review server does not answer (${error.message})` } };
    }
  }

  // ------------------------------------------------------------------ small views

  function banner(message, kind = "error", ...extra) {
    const node = $("banner");
    const close = el("button", { type: "button", class: "close", text: "\u00d7", title: "dismiss" });
    close.addEventListener("click", () => { node.hidden = true; });
    node.replaceChildren(el("span", { class: "message", text: message }), ...extra, close);
    node.className = `banner ${kind}`;
    node.hidden = false;
  }

  const clearBanner = () => { $("banner").hidden = true; };
  const show = (view) => { for (const id of ["login", "questions", "grading"]) $(id).hidden = id !== view; };
  const number = (x) => (Math.round(x * 100) / 100).toString();
  const signed = (x) => (x > 0 ? "+" : "") + number(x);

  function describe(review) {
    if (!review) return "no review";
    const texts = review.items.map((id) => {
      const item = state.question.rubric.find((i) => i.item === id);
      return item ? `${signed(item.points)} ${item.text}` : id;
    });
    const adjustment = review.adjustment ? `, adjustment ${signed(review.adjustment)}` : "";
    const comment = review.comment ? `, comment \u201c${review.comment}\u201d` : "";
    return `${savedBy(review)}: [${texts.join("; ")}]${adjustment}${comment}`;
  }

  const savedBy = (review) => `${review.reviewer} at ${new Date(review.updated * 1000).toLocaleTimeString()}`;

  // ------------------------------------------------------------------ routes: #/question/key

  function hashFor(question, key) {
    return `#/${enc(question)}${key ? `/${enc(key)}` : ""}`;
  }

  function parseHash() {
    try {
      const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
      return [parts[0] || null, parts[1] || null];
    } catch (error) {
      return [null, null];
    }
  }

  async function route() {
    if (!state.who) {
      show("login");
      $("login-name").focus();
      return;
    }
    $("ta").textContent = `TA: ${state.who}`;
    const [question, key] = parseHash();
    if (question) await openQuestion(question, key);
    else await listQuestions();
  }

  async function listQuestions() {
    state.stale = true; // back at the list: the next question opened is fetched afresh
    const { status, data } = await call("/api/questions");
    if (status !== 200) return banner(data.error);
    $("where").textContent = "";
    if (!data.questions.length) banner("This gradebook has no written questions (nor manual parts) to review.", "info");
    $("question-list").replaceChildren(...data.questions.map((q) => el("li", {},
      el("a", { href: hashFor(q.name), class: "question-link" },
        el("strong", { text: q.name }), el("span", { class: "muted", text: ` ${number(q.points)} pts, ${q.kind}` })),
      el("span", { class: "progress-text", text: `${q.reviewed} / ${q.total} reviewed` }),
      el("progress", { max: String(Math.max(q.total, 1)), value: String(q.reviewed) }),
    )));
    show("questions");
  }

  function firstToReview(from) {
    const n = state.answers.length;
    for (let i = 0; i < n; i += 1) {
      const j = (from + i) % n;
      if (state.answers[j].to_review) return j;
    }
    return -1;
  }

  async function openQuestion(name, key) {
    if (state.stale || !state.question || state.question.name !== name) {
      const { status, data } = await call(`/api/answers?question=${enc(name)}`);
      if (status !== 200) {
        banner(data.error);
        return listQuestions();
      }
      state.question = data.question;
      state.answers = data.answers;
      state.stale = false;
    }
    if (!state.answers.length) {
      banner(`No answers to ${name} yet.`, "info");
      return listQuestions();
    }
    let index = state.answers.findIndex((a) => a.key === key);
    if (index < 0) {
      index = Math.max(firstToReview(0), 0);
      history.replaceState(null, "", hashFor(name, state.answers[index].key));
    }
    state.index = index;
    await showAnswer();
  }

  async function showAnswer() {
    const q = state.question;
    const a = state.answers[state.index];
    const { status, data } = await call(`/api/answer?question=${enc(q.name)}&key=${enc(a.key)}`);
    if (status !== 200) return banner(data.error);
    Object.assign(a, { review: data.review, to_review: data.to_review, suggested: data.suggested });
    const suggestion = a.to_review && a.suggested ? a.suggested : null;
    state.form = formFrom(a.review, suggestion); // a model's suggestion comes pre-ticked, marked, never saved by itself
    $("suggestion").hidden = !suggestion;
    $("where").textContent = `${q.name}: ${q.reviewed} / ${q.total} reviewed`;
    $("prompt").innerHTML = q.prompt_html; // rendered and sanitized by the server
    $("position").textContent = `${state.index + 1} of ${state.answers.length}`;
    $("student").textContent = a.label;
    const review = a.to_review ? (a.review ? "changed since its review" : "to review") : "reviewed";
    $("status").replaceChildren(
      el("span", { class: `badge ${a.to_review ? "todo" : "done"}`, text: review }),
      ...(data.status === "ok" ? [] : [el("span", { class: "badge warn", text: data.status.replace("_", " ") })]),
    );
    $("note").textContent = data.note;
    $("note").hidden = !data.note;
    $("answer").innerHTML = data.html; // rendered and sanitized by the server (grader/review/render.py)
    $("group").hidden = a.group_size < 2;
    const others = a.group_size - 1;
    $("group-text").textContent = `${others} other answer${others === 1 ? "" : "s"} like this one`;
    fillForm();
    show("grading");
  }

  // ------------------------------------------------------------------ the grading form

  function formFrom(review, suggested = null) {
    return {
      items: new Set(suggested || (review ? review.items : [])),
      adjustment: review ? review.adjustment : 0,
      comment: review ? review.comment : "",
    };
  }

  function fillForm() {
    $("adjustment").value = String(state.form.adjustment);
    $("comment").value = state.form.comment;
    const a = state.answers[state.index];
    $("reviewed-by").textContent = a.review ? `saved by ${savedBy(a.review)}` : "";
    state.dirty = false;
    renderRubric();
  }

  function readForm() {
    const adjustment = Number($("adjustment").value || 0);
    if (!Number.isFinite(adjustment)) throw new Error("the adjustment is not a number");
    state.form.adjustment = adjustment;
    state.form.comment = $("comment").value;
  }

  function renderRubric() {
    $("rubric").replaceChildren(...state.question.rubric.map(rubricRow));
    updateScore();
  }

  function rubricRow(item, i) {
    const box = el("input", { type: "checkbox", id: `item-${i}`, checked: state.form.items.has(item.item) });
    box.addEventListener("change", () => toggle(item.item, box.checked));
    const row = el("li", { class: "item" },
      el("label", { for: `item-${i}` }, box,
        el("kbd", { text: i < 9 ? String(i + 1) : "" }),
        el("span", { class: `points ${item.points < 0 ? "neg" : "pos"}`, text: signed(item.points) }),
        el("span", { class: "text", text: item.text }),
        ...(suggestedHere(item) ? [el("span", { class: "badge suggested", text: "suggested" })] : [])),
    );
    row.append(el("button", { type: "button", class: "edit", text: "edit", title: "edit this item for every answer",
      onclick: () => editItem(row, item) }));
    return row;
  }

  function suggestedHere(item) {
    const a = state.answers[state.index];
    return Boolean(a.to_review && a.suggested && a.suggested.includes(item.item));
  }

  function toggle(id, on) {
    if (on) state.form.items.add(id);
    else state.form.items.delete(id);
    state.dirty = true;
    renderRubric();
  }

  function updateScore() {
    const q = state.question;
    const adjustment = Number($("adjustment").value || 0) || 0;
    const given = q.rubric.filter((i) => state.form.items.has(i.item)).reduce((sum, i) => sum + i.points, 0);
    const score = Math.min(q.points, Math.max(0, given + adjustment));
    $("score").textContent = `${number(score)} / ${number(q.points)}`;
  }

  // ------------------------------------------------------------------ saving

  async function guarded(action) {
    if (state.busy || $("grading").hidden) return;
    state.busy = true;
    try {
      readForm();
      await action();
    } catch (error) {
      banner(error.message);
    } finally {
      state.busy = false;
    }
  }

  function conflict(data) {
    const a = state.answers.find((x) => x.key === data.key) || state.answers[state.index];
    a.review = data.current; // a second save is based on what is stored now: it replaces it knowingly
    state.stale = true; // others saved: the list (groups' versions) is fetched again on the next step
    const theirs = el("button", { type: "button", text: "Load theirs" });
    theirs.addEventListener("click", () => {
      state.form = formFrom(data.current);
      fillForm();
      clearBanner();
    });
    banner(`Not saved: ${data.error}. Stored now: ${describe(data.current)}. Save again to replace it with yours.`,
      "conflict", theirs);
  }

  function goToNextUnreviewed() {
    const next = firstToReview(state.index + 1);
    if (next < 0) {
      banner("Every answer to this question is reviewed.", "info");
      return showAnswer();
    }
    location.hash = hashFor(state.question.name, state.answers[next].key);
  }

  function saved(a, review) {
    if (a.to_review) state.question.reviewed += 1;
    a.review = review;
    a.to_review = false;
  }

  const save = () => guarded(async () => {
    const q = state.question;
    const a = state.answers[state.index];
    const { status, data } = await call("/api/review", {
      question: q.name, key: a.key, items: [...state.form.items], adjustment: state.form.adjustment,
      comment: state.form.comment, who: state.who, base_version: a.review ? a.review.version : 0,
    });
    if (status === 409) return conflict(data);
    if (status !== 200) return banner(data.error);
    clearBanner();
    saved(a, data.review);
    goToNextUnreviewed();
  });

  const gradeGroup = () => guarded(async () => {
    const q = state.question;
    const a = state.answers[state.index];
    const members = state.answers.filter((x) => x.group === a.group);
    if (members.length < 2) return banner("This answer is not in a group.", "info");
    const versions = Object.fromEntries(members.map((m) => [m.key, m.review ? m.review.version : 0]));
    const { status, data } = await call("/api/group", {
      question: q.name, versions, items: [...state.form.items], adjustment: state.form.adjustment,
      comment: state.form.comment, who: state.who,
    });
    if (status === 409) return conflict(data);
    if (status !== 200) return banner(data.error);
    for (const m of members) saved(m, data.reviews[m.key]);
    state.stale = true;
    banner(`Graded ${members.length} answers alike.`, "info");
    goToNextUnreviewed();
  });

  const splitOff = () => guarded(async () => {
    const a = state.answers[state.index];
    const { status, data } = await call("/api/split", { question: state.question.name, key: a.key, who: state.who });
    if (status !== 200) return banner(data.error);
    state.stale = true;
    await openQuestion(state.question.name, a.key);
  });

  // ------------------------------------------------------------------ rubric edits

  function editItem(row, item) {
    const points = el("input", { type: "number", step: "any", value: String(item.points), "aria-label": "points" });
    const text = el("input", { value: item.text, maxlength: "2000", "aria-label": "text", class: "item-text" });
    const form = el("form", { class: "edit-item" }, points, text,
      el("button", { type: "submit", text: "Save item" }),
      el("button", { type: "button", text: "Cancel", onclick: renderRubric }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      saveItem(item, Number(points.value), text.value);
    });
    row.replaceChildren(form);
    text.focus();
  }

  async function saveItem(item, points, text) {
    const q = state.question;
    const { status, data } = await call("/api/rubric", {
      question: q.name, item: item.item, points, text, who: state.who, base_version: item.version,
    });
    if (status === 409) {
      Object.assign(item, data.current);
      banner(`Not saved: ${data.error}: it is now \u201c${data.current.text}\u201d (${signed(data.current.points)}).`,
        "conflict");
    } else if (status !== 200) {
      banner(data.error);
    } else {
      Object.assign(item, data.item);
      banner(`Rubric item changed for every answer graded with it.`, "info");
    }
    renderRubric();
  }

  async function addItem(event) {
    event.preventDefault();
    const { status, data } = await call("/api/rubric", {
      question: state.question.name, points: Number($("add-points").value), text: $("add-text").value, who: state.who,
    });
    if (status !== 200) return banner(data.error);
    state.question.rubric.push(data.item);
    $("add-item").reset();
    renderRubric();
  }

  // ------------------------------------------------------------------ keyboard

  function move(step) {
    const index = Math.min(state.answers.length - 1, Math.max(0, state.index + step));
    if (index === state.index) return;
    if (state.dirty) {
      state.dirty = false; // the same key again leaves without saving
      return banner("This answer's grading is not saved: s saves it, the same key again leaves it unsaved.", "info");
    }
    location.hash = hashFor(state.question.name, state.answers[index].key);
  }

  function toggleNth(n) {
    const item = state.question.rubric[n];
    if (item) toggle(item.item, !state.form.items.has(item.item));
  }

  const KEYS = {
    n: () => move(1), j: () => move(1), p: () => move(-1), k: () => move(-1), s: save, g: gradeGroup,
    c: () => $("comment").focus(), q: () => { location.hash = ""; },
  };

  function onKey(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      save();
      return;
    }
    const typing = event.target.closest && event.target.closest("textarea, input:not([type=checkbox]), select");
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") $("help").hidden = !$("help").hidden;
    else if ($("grading").hidden) return;
    else if (/^[1-9]$/.test(event.key)) toggleNth(Number(event.key) - 1);
    else if (KEYS[event.key]) KEYS[event.key]();
    else return;
    event.preventDefault();
  }

  // ------------------------------------------------------------------ start

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.who = $("login-name").value.trim();
    if (!state.who) return;
    localStorage.setItem(NAME_KEY, state.who);
    route();
  });
  $("ta").addEventListener("click", () => {
    state.who = "";
    route();
  });
  $("home").addEventListener("click", (event) => {
    event.preventDefault();
    location.hash = "";
  });
  $("help-toggle").addEventListener("click", () => { $("help").hidden = !$("help").hidden; });
  $("prev").addEventListener("click", () => move(-1));
  $("next").addEventListener("click", () => move(1));
  $("save").addEventListener("click", save);
  $("group-grade").addEventListener("click", gradeGroup);
  $("split").addEventListener("click", splitOff);
  $("add-item").addEventListener("submit", addItem);
  $("adjustment").addEventListener("input", () => { state.dirty = true; updateScore(); });
  $("comment").addEventListener("input", () => { state.dirty = true; });
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", () => { clearBanner(); route(); });
  route();
})();
