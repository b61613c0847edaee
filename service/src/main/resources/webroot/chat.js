// The chat page: one WebSocket to /ws/chat, the reply streamed into the transcript as it comes.
// The session id (and its transcript, for display) is kept in localStorage, so a reload resumes the conversation.
(() => {
  const $ = (id) => document.getElementById(id);
  const transcript = $('transcript'), message = $('message'), sendButton = $('send'), stopButton = $('stop');
  const params = new URLSearchParams(location.search);
  const token = params.get('token') || localStorage.getItem('jamba.token') || '';
  if (params.get('token')) localStorage.setItem('jamba.token', token);

  let socket, sessionId = localStorage.getItem('jamba.session') || null, streaming = null, retry = 0;

  function saveTranscript() {
    if (!sessionId) return;
    const turns = [...transcript.querySelectorAll('.turn.user, .turn.assistant')]
      .map((t) => ({ role: t.classList.contains('user') ? 'user' : 'assistant', text: t.dataset.text || '' }));
    localStorage.setItem('jamba.transcript.' + sessionId, JSON.stringify(turns));
  }

  function addTurn(role, text) {
    const div = document.createElement('div');
    div.className = 'turn ' + role;
    div.dataset.text = text;
    div.textContent = text;
    transcript.appendChild(div);
    transcript.scrollTop = transcript.scrollHeight;
    return div;
  }

  function showSession() {
    $('session-id').textContent = sessionId || 'new';
    transcript.replaceChildren();
    if (!sessionId) return;
    for (const t of JSON.parse(localStorage.getItem('jamba.transcript.' + sessionId) || '[]')) addTurn(t.role, t.text);
  }

  function setStatus(text) { $('status').textContent = text; }

  function connect() {
    const url = new URL('/ws/chat', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) url.searchParams.set('token', token);
    socket = new WebSocket(url);
    let opened = false;
    socket.onopen = () => { opened = true; retry = 0; setStatus('connected'); sendButton.disabled = false; };
    socket.onclose = () => {
      // A refused upgrade (no or wrong API key, an Origin not allowed) closes a socket that never opened; the
      // browser does not say why, so say what usually helps.
      setStatus(opened ? 'disconnected: reconnecting…' : 'cannot connect (if the server needs an API key, open this page as /?token=KEY): retrying…');
      sendButton.disabled = true;
      if (streaming) finish({ finish_reason: 'disconnected' });
      setTimeout(connect, Math.min(5000, 250 * 2 ** retry++));
    };
    socket.onmessage = (e) => onFrame(JSON.parse(e.data));
  }

  function onFrame(f) {
    switch (f.type) {
      case 'session':
        sessionId = f.session_id;
        localStorage.setItem('jamba.session', sessionId);
        $('session-id').textContent = sessionId;
        break;
      case 'token':
        if (!streaming) break;
        streaming.div.dataset.text += f.text;
        streaming.div.textContent = streaming.div.dataset.text;
        streaming.tokens += f.ids.length;
        if (!streaming.first) streaming.first = performance.now();
        const secs = (performance.now() - streaming.first) / 1000;
        if (secs > 0) $('stats').textContent = `${streaming.tokens} tokens, ${(streaming.tokens / secs).toFixed(1)} tok/s`;
        transcript.scrollTop = transcript.scrollHeight;
        break;
      case 'done':
        finish(f);
        break;
      case 'error':
        addTurn('error', `${f.code}: ${f.message}`);
        if (streaming) finish({ finish_reason: 'error' });
        break;
    }
  }

  function finish(done) {
    if (!streaming) return;
    const meta = document.createElement('span');
    meta.className = 'meta';
    const u = done.usage || {}, t = done.timings || {};
    const rate = t.decode_tok_s ? `, ${t.decode_tok_s.toFixed(1)} tok/s` : '';
    meta.textContent = `${done.finish_reason}` + (u.completion_tokens !== undefined ? ` · ${u.completion_tokens} tokens${rate}` : '');
    streaming.div.appendChild(meta);
    if (t.decode_tok_s) $('stats').textContent = `last reply: ${u.completion_tokens} tokens at ${t.decode_tok_s.toFixed(1)} tok/s, first token after ${Math.round(t.time_to_first_token_ms)} ms`;
    streaming = null;
    stopButton.disabled = true;
    sendButton.disabled = false;
    saveTranscript();
  }

  function send() {
    const content = message.value;
    if (!content.trim() || !socket || socket.readyState !== WebSocket.OPEN || streaming) return;
    const frame = { type: 'user', content, params: {
      max_tokens: Number($('max-tokens').value) || 64, temperature: Number($('temperature').value) || 0 } };
    if (sessionId) frame.session_id = sessionId;
    addTurn('user', content);
    streaming = { div: addTurn('assistant', ''), tokens: 0, first: 0 };
    message.value = '';
    sendButton.disabled = true;
    stopButton.disabled = false;
    socket.send(JSON.stringify(frame));
  }

  $('composer').addEventListener('submit', (e) => { e.preventDefault(); send(); });
  message.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); } });
  stopButton.addEventListener('click', () => socket.send(JSON.stringify({ type: 'stop' })));
  $('new-chat').addEventListener('click', () => {
    sessionId = null;
    localStorage.removeItem('jamba.session');
    showSession();
    $('stats').textContent = '';
  });
  $('resume').addEventListener('click', () => {
    const id = $('resume-id').value.trim();
    if (!id) return;
    sessionId = id;
    localStorage.setItem('jamba.session', id);
    showSession();
  });

  showSession();
  connect();
})();
