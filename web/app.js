// The bidder page: plain JavaScript, no framework, no build step. It reads ./config.json at
// start: without one it talks to the bidder API on its own origin (api-local serves this
// directory with --dev), gets live updates from the WebSocket at /live and signs in through the
// demo `POST /dev/token`; deployed (infra/cdk), config.json names the HTTP API, the WebSocket
// API and the Cognito hosted UI (authorization code flow with PKCE, auth.js). A payments panel
// shows what the user has on file (GET /me/payment-identity) and, locally, adds a test card or a
// payout account through api-local's demo routes. See docs/web.md.
'use strict';

(() => {
  const Auth = window.AuctionAuth;
  const TOKEN_KEY = 'auctions.token';
  const SUB_KEY = 'auctions.sub';
  const NAME_KEY = 'auctions.name';
  const REFRESH_KEY = 'auctions.refresh';
  const EXPIRES_KEY = 'auctions.expiresAt';
  const PKCE_KEY = 'auctions.pkce';
  const SEEN_KEY = 'auctions.notificationsSeen';
  /** A token expiring within this is renewed before it is sent. */
  const RENEW_BEFORE_MS = 120000;
  const OTHER_BIDDER = Symbol('another bidder');
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  const $ = (id) => document.getElementById(id);

  /** Where the API and the socket are and how users sign in (config.json; see start()). */
  let config = Auth.defaultConfig();
  const cognito = () => (config.signIn.kind === 'cognito' ? config.signIn : null);

  // The token the API and the socket take, the user id it carries (`sub`: what the API derives
  // from the same claim), and with Cognito a name to show, the refresh token and the expiry.
  const session = {
    token: sessionStorage.getItem(TOKEN_KEY),
    sub: sessionStorage.getItem(SUB_KEY),
    name: sessionStorage.getItem(NAME_KEY),
    refresh: sessionStorage.getItem(REFRESH_KEY),
    expiresAt: Number(sessionStorage.getItem(EXPIRES_KEY)) || null,
  };

  // ------------------------------------------------------------------------------ helpers

  function newKey() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  const exponents = new Map();
  /** How many minor-unit digits a currency has (2 for EUR, 0 for JPY). */
  function exponent(currency) {
    if (!exponents.has(currency)) {
      let digits = 2;
      try {
        digits = new Intl.NumberFormat('en', { style: 'currency', currency })
          .resolvedOptions().maximumFractionDigits;
      } catch (_) { /* unknown code: assume two digits */ }
      exponents.set(currency, digits);
    }
    return exponents.get(currency);
  }

  /** `{amountMinor: 1500, currency: 'EUR'}` -> `15.00 EUR`, in integers only. */
  function formatMoney(money) {
    if (!money) return '—';
    const digitsAfter = exponent(money.currency);
    const negative = money.amountMinor < 0;
    let digits = String(Math.abs(money.amountMinor));
    if (digitsAfter > 0) {
      digits = digits.padStart(digitsAfter + 1, '0');
      digits = `${digits.slice(0, -digitsAfter)}.${digits.slice(-digitsAfter)}`;
    }
    return `${negative ? '-' : ''}${digits} ${money.currency}`;
  }

  /** `'15.5'` in EUR -> 1550. Throws with a message for the user on anything else. */
  function parseMajor(text, currency) {
    const digitsAfter = exponent(currency);
    const trimmed = String(text).trim().replace(',', '.');
    const pattern = digitsAfter > 0
      ? new RegExp(`^(\\d{1,13})(?:\\.(\\d{0,${digitsAfter}}))?$`)
      : /^(\d{1,13})$/;
    const match = pattern.exec(trimmed);
    if (!match) {
      throw new Error(digitsAfter > 0
        ? `Enter an amount like 15 or 15.50 (at most ${digitsAfter} decimals).`
        : 'Enter a whole amount like 1500.');
    }
    const whole = Number(match[1]);
    const fraction = Number((match[2] || '').padEnd(digitsAfter, '0') || '0');
    const minor = whole * 10 ** digitsAfter + fraction;
    if (minor <= 0) throw new Error('Enter an amount above zero.');
    return minor;
  }

  function formatTime(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
  }

  function formatCountdown(ms) {
    if (ms <= 0) return 'ending now';
    const total = Math.floor(ms / 1000);
    const days = Math.floor(total / 86400);
    const hours = Math.floor((total % 86400) / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = total % 60;
    const parts = [];
    if (days) parts.push(`${days} d`);
    if (days || hours) parts.push(`${hours} h`);
    if (days || hours || minutes) parts.push(`${String(minutes).padStart(days || hours ? 2 : 1, '0')} min`);
    if (!days) parts.push(`${String(seconds).padStart(parts.length ? 2 : 1, '0')} s`);
    return `in ${parts.join(' ')}`;
  }

  const STATUS_TEXT = {
    scheduled: 'Scheduled', active: 'Active', ended: 'Ended', cancelled: 'Cancelled',
  };
  const UNSOLD_TEXT = { noBids: 'no bids', reserveNotMet: 'the reserve was not met' };
  const PAYOUT_TEXT = {
    none: '—',
    pending: 'Awaiting the buyer’s payment',
    paidOut: 'Paid out',
    failed: 'Payment failed: no payout',
  };

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  /** Says something once in the aria-live region (and on screen). */
  function announce(text) {
    const region = $('announcer');
    region.textContent = '';
    // A fresh text node after a tick, so that the same message twice is announced twice.
    setTimeout(() => { region.textContent = text; }, 30);
  }

  // ---------------------------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, problem) {
      const text = ((problem && (problem.detail || problem.title)) || `The request failed (HTTP ${status}).`)
        // The API states amounts as "1000 EUR (minor units)"; the page speaks in major units.
        .replace(/(-?\d+) ([A-Z]{3}) \(minor units\)/g,
          (_, amount, currency) => formatMoney({ amountMinor: Number(amount), currency }));
      super(text.charAt(0).toUpperCase() + text.slice(1));
      this.status = status;
      this.problem = problem || {};
      this.code = this.problem.code;
    }
  }

  async function api(path, { method = 'GET', body, headers = {} } = {}) {
    await freshToken();
    const sent = { Accept: 'application/json, application/problem+json', ...headers };
    if (session.token) sent.Authorization = `Bearer ${session.token}`;
    if (body !== undefined) sent['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(Auth.apiEndpoint(config, path), {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (_) {
      throw new ApiError(0, { title: 'The server cannot be reached; try again.' });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!response.ok) {
      const error = new ApiError(response.status, data);
      if (response.status === 401 && session.token) {
        signOut('Your session has expired: sign in again.');
      }
      throw error;
    }
    return data;
  }

  // -------------------------------------------------------------------------- live updates

  const live = {
    socket: null,
    renewing: false,
    wanted: new Set(),
    attempt: 0,
    reconnectTimer: null,
    pingTimer: null,
    pongTimer: null,
  };

  function setLiveState(state) {
    const badge = $('live-state');
    badge.dataset.state = state;
    badge.textContent = {
      connected: 'Live: connected',
      connecting: 'Live: connecting…',
      offline: 'Live: offline',
    }[state];
    if (state !== 'connected') startFallbackPolling();
    else stopFallbackPolling();
  }

  function liveSend(message) {
    if (live.socket && live.socket.readyState === WebSocket.OPEN) {
      live.socket.send(JSON.stringify(message));
    }
  }

  function liveConnect() {
    clearTimeout(live.reconnectTimer);
    if (!session.token || live.socket || live.renewing) return;
    if (tokenExpiresSoon()) {
      // The token is checked once, on connect: renew it first (a failed renewal connects with
      // the old one, which is refused and retried with backoff).
      live.renewing = true;
      setLiveState('connecting');
      freshToken().finally(() => {
        live.renewing = false;
        openSocket();
      });
      return;
    }
    openSocket();
  }

  function openSocket() {
    if (!session.token || live.socket) return;
    setLiveState('connecting');
    let socket;
    try {
      socket = new WebSocket(Auth.liveEndpoint(config, location.href, session.token));
    } catch (_) {
      scheduleReconnect();
      return;
    }
    live.socket = socket;
    socket.addEventListener('open', () => {
      if (live.socket !== socket) return;
      live.attempt = 0;
      setLiveState('connected');
      for (const auctionId of live.wanted) liveSend({ action: 'subscribe', auctionId });
      startPing();
    });
    socket.addEventListener('message', (event) => {
      if (live.socket !== socket) return;
      let message;
      try { message = JSON.parse(event.data); } catch (_) { return; }
      onLiveMessage(message);
    });
    socket.addEventListener('close', () => {
      if (live.socket !== socket) return;
      live.socket = null;
      stopPing();
      setLiveState('offline');
      if (session.token) scheduleReconnect();
    });
    // An error is always followed by a close, which reconnects.
  }

  function scheduleReconnect() {
    clearTimeout(live.reconnectTimer);
    const ceiling = Math.min(15000, 500 * 2 ** live.attempt);
    live.attempt = Math.min(live.attempt + 1, 10);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    live.reconnectTimer = setTimeout(liveConnect, delay);
  }

  function liveDisconnect() {
    clearTimeout(live.reconnectTimer);
    stopPing();
    const socket = live.socket;
    live.socket = null;
    if (socket) socket.close(1000, 'signed out');
    setLiveState('offline');
  }

  /** A ping every 25 s; no pong within 10 s means a dead connection: drop it and reconnect. */
  function startPing() {
    stopPing();
    live.pingTimer = setInterval(() => {
      liveSend({ action: 'ping' });
      clearTimeout(live.pongTimer);
      live.pongTimer = setTimeout(() => {
        if (live.socket) live.socket.close(4000, 'no pong');
      }, 10000);
    }, 25000);
  }

  function stopPing() {
    clearInterval(live.pingTimer);
    clearTimeout(live.pongTimer);
  }

  function liveSubscribe(auctionId) {
    live.wanted.add(auctionId);
    liveSend({ action: 'subscribe', auctionId });
  }

  function liveUnsubscribe(auctionId) {
    if (live.wanted.delete(auctionId)) liveSend({ action: 'unsubscribe', auctionId });
  }

  function onLiveMessage(message) {
    switch (message.type) {
      case 'pong':
        clearTimeout(live.pongTimer);
        break;
      case 'subscribed':
        // Pushes from now on are applied on top of the state as of now.
        if (message.auctionId === detail.id) refreshDetail();
        if (list.watched.has(message.auctionId)) scheduleListRefresh();
        break;
      case 'unsubscribed':
        break;
      case 'error':
        console.warn('live:', message.code, message.message);
        break;
      case 'bidPlaced':
      case 'extended':
      case 'ended':
      case 'cancelled':
        applyPush(message);
        applyListPush(message);
        break;
      default:
        break;
    }
  }

  // While the socket is down, the open auction is read every few seconds instead.
  let fallbackTimer = null;
  function startFallbackPolling() {
    if (fallbackTimer) return;
    fallbackTimer = setInterval(() => {
      if (detail.id && session.token && document.visibilityState === 'visible') refreshDetail();
    }, 5000);
  }
  function stopFallbackPolling() {
    clearInterval(fallbackTimer);
    fallbackTimer = null;
  }

  // ------------------------------------------------------------------------- the open auction

  const detail = {
    id: null,
    version: 0,
    auction: null, // the last state applied: the API's AuctionView, updated by pushes
    leaderId: null, // a user id, OTHER_BIDDER when only "not you" is known, or null
    wasLeading: false,
    iBid: false,
    resultAnnounced: false,
    endCheckTimer: null,
    early: [], // pushes that came before the first state: applied on top of it
  };

  function resetDetail(id) {
    clearTimeout(detail.endCheckTimer);
    Object.assign(detail, {
      id, version: 0, auction: null, leaderId: null, wasLeading: false, iBid: false,
      resultAnnounced: false, endCheckTimer: null, early: [],
    });
    $('auction-title').textContent = 'Loading…';
    $('auction-description').hidden = true;
    $('detail-error').textContent = '';
    $('outbid-notice').hidden = true;
    $('result-banner').hidden = true;
    $('bid-error').textContent = '';
    $('bid-message').textContent = '';
    $('bid-form').reset();
    $('photo-list').replaceChildren();
    $('photo-form').hidden = true;
    $('photo-status').textContent = '';
    $('photo-error').textContent = '';
    for (const id of ['auction-price', 'auction-leader', 'auction-bids', 'auction-status', 'auction-seller']) {
      $(id).textContent = '—';
    }
    $('auction-ends').textContent = '';
    $('auction-countdown').textContent = '';
    Object.assign(bidHistory, { bids: [], next: null });
    $('bid-history-error').textContent = '';
    renderBidHistory();
    renderAuctionNotifications();
    renderWatchToggle();
  }

  // --------------------------------------------------------------------------- item photos

  /** The auction's thumbnails, in the gallery. */
  async function loadPhotos() {
    const id = detail.id;
    if (!id) return;
    let answer;
    try {
      answer = await api(`/auctions/${id}/photos`);
    } catch (error) {
      if (detail.id === id) $('photo-error').textContent = error.message;
      return;
    }
    if (detail.id !== id) return;
    const title = (detail.auction && detail.auction.title) || 'the item';
    $('photo-list').replaceChildren(...answer.photos.map((photo, n) => element('li', {},
      element('img', {
        src: photo.thumbnailUrl,
        alt: `Photo ${n + 1} of ${answer.photos.length} of ${title}`,
        loading: 'lazy',
        'data-photo-id': photo.photoId,
      }))));
  }

  /**
   * One file to S3: a grant from the API (which refuses a type or size S3 would refuse), the
   * form posted straight to the bucket, then the thumbnailer's verdict, asked until it is in.
   */
  async function uploadPhoto(id, file) {
    const grant = await api(`/auctions/${id}/photos`, {
      method: 'POST', body: { contentType: file.type, size: file.size },
    });
    const form = new FormData();
    for (const field of grant.fields) form.append(field.name, field.value);
    form.append('file', file);
    let posted;
    try {
      posted = await fetch(grant.url, { method: 'POST', body: form });
    } catch (_) {
      throw new Error('The photo storage cannot be reached; try again.');
    }
    if (!posted.ok) throw new Error(`The photo storage refused ${file.name} (HTTP ${posted.status}).`);
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      const status = await api(`/auctions/${id}/photos/${grant.photoId}`);
      if (status.status === 'ready') return null;
      if (status.status === 'refused') return `${file.name} was refused: ${status.refusal}.`;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return `${file.name} is still being processed; it appears here when it is ready.`;
  }

  async function addPhotos() {
    const input = $('photo-file');
    const id = detail.id;
    const files = [...input.files];
    if (!id || !files.length) return;
    input.disabled = true;
    $('photo-status').textContent = '';
    $('photo-error').textContent = '';
    const problems = [];
    let added = 0;
    for (const file of files) {
      $('photo-status').textContent = `Uploading ${file.name}…`;
      try {
        const problem = await uploadPhoto(id, file);
        if (problem) problems.push(problem); else added += 1;
      } catch (error) {
        problems.push(`${file.name}: ${error.message}`);
      }
    }
    input.value = '';
    input.disabled = false;
    $('photo-status').textContent = added ? `${added} photo${added === 1 ? '' : 's'} added.` : '';
    $('photo-error').textContent = problems.join(' ');
    loadPhotos();
  }

  async function refreshDetail(minVersion) {
    const id = detail.id;
    if (!id) return;
    const query = minVersion ? `?minVersion=${minVersion}` : '';
    try {
      const view = await api(`/auctions/${id}${query}`);
      if (detail.id === id) applySnapshot(view);
    } catch (error) {
      if (detail.id === id) $('detail-error').textContent = error.message;
    }
  }

  /** A whole state from the API: taken when at least as new as what is shown. */
  function applySnapshot(view) {
    if (view.id !== detail.id || view.version < detail.version) return;
    const sameVersion = view.version === detail.version;
    detail.auction = { ...detail.auction, ...view };
    if (view.leading) {
      detail.leaderId = session.sub;
    } else if (view.bidCount === 0) {
      detail.leaderId = null;
    } else if (!sameVersion || detail.leaderId === session.sub || detail.leaderId === null) {
      // The view says only "not you"; a push at this same version may have said who.
      detail.leaderId = OTHER_BIDDER;
    }
    if (view.result && view.result.outcome === 'sold') detail.leaderId = view.result.winnerId;
    detail.version = view.version;
    $('detail-error').textContent = '';
    afterChange(null);
    const early = detail.early.sort((a, b) => a.version - b.version);
    detail.early = [];
    for (const message of early) applyPush(message);
  }

  /** One update from the socket: taken only when newer than what is shown. */
  function applyPush(message) {
    if (message.auctionId !== detail.id) return;
    if (!detail.auction) {
      // Its first state has not arrived yet: kept, and applied on top of that state.
      if (detail.early.length < 100) detail.early.push(message);
      return;
    }
    if (typeof message.version !== 'number' || message.version <= detail.version) return;
    const auction = detail.auction;
    switch (message.type) {
      case 'bidPlaced':
        auction.currentPrice = message.currentPrice;
        auction.bidCount = message.bidCount;
        if (message.endsAt) auction.endsAt = message.endsAt;
        auction.leading = message.leaderId === session.sub;
        detail.leaderId = message.leaderId;
        if (auction.status === 'scheduled') auction.status = 'active'; // a bid starts it
        break;
      case 'extended':
        auction.endsAt = message.endsAt;
        break;
      case 'ended':
        auction.status = 'ended';
        auction.result = message.result;
        if (message.result && message.result.outcome === 'sold') detail.leaderId = message.result.winnerId;
        break;
      case 'cancelled':
        auction.status = 'cancelled';
        break;
      default:
        return;
    }
    detail.version = message.version;
    afterChange(message);
    flash(message.type === 'bidPlaced' ? ['auction-price', 'auction-leader', 'auction-bids']
      : message.type === 'extended' ? ['auction-ends'] : ['auction-status']);
    if (message.type === 'bidPlaced') scheduleBidHistoryRefresh();
    scheduleNotificationRefresh();
  }

  /** Marks the facts a push changed for a moment, for the eye (the announcer tells the ear). */
  function flash(ids) {
    for (const id of ids) {
      const node = $(id).closest('dd');
      node.classList.add('changed');
      clearTimeout(node.flashTimer);
      node.flashTimer = setTimeout(() => node.classList.remove('changed'), 1500);
    }
  }

  function leaderText() {
    const auction = detail.auction;
    if (!auction || !auction.bidCount) return 'No bids yet';
    if (detail.leaderId === session.sub) return 'You';
    if (detail.leaderId === OTHER_BIDDER || !detail.leaderId) return 'Another bidder';
    return detail.leaderId;
  }

  function afterChange(push) {
    const auction = detail.auction;
    const leadingNow = auction.bidCount > 0 && detail.leaderId === session.sub;
    let outbid = false;
    if (leadingNow) {
      detail.wasLeading = true;
      detail.iBid = true;
      $('outbid-notice').hidden = true;
    } else if (detail.wasLeading && auction.bidCount > 0 && auction.status === 'active') {
      detail.wasLeading = false;
      outbid = true;
      $('bid-message').textContent = '';
      const who = detail.leaderId === OTHER_BIDDER || !detail.leaderId ? 'another bidder' : detail.leaderId;
      showOutbid(`You have been outbid: ${who} leads at ${formatMoney(auction.currentPrice)}.`);
    }
    renderDetail();
    // The outbid notice is announced by its own role="alert"; the result by renderDetail.
    if (!push || outbid) return;
    if (push.type === 'bidPlaced') {
      // Your own bid was just confirmed in words already.
      if (leadingNow && $('bid-message').textContent.includes(formatMoney(push.currentPrice))) return;
      announce(leadingNow
        ? `You lead at ${formatMoney(push.currentPrice)}.`
        : `New bid: ${formatMoney(push.currentPrice)}, ${leaderText()} leads.`);
    } else if (push.type === 'extended') {
      announce(`The auction was extended: it now ends ${formatTime(push.endsAt)}.`);
    }
  }

  function showOutbid(text) {
    const notice = $('outbid-notice');
    notice.textContent = text;
    notice.dataset.version = String(detail.version);
    notice.hidden = false;
  }

  function resultText(auction) {
    if (auction.status === 'cancelled') return { text: 'This auction was cancelled.', kind: 'info' };
    const result = auction.result;
    if (!result) return null;
    if (result.outcome === 'sold') {
      const price = formatMoney(result.finalPrice);
      if (result.winnerId === session.sub) return { text: `You won “${auction.title}” for ${price}.`, kind: 'won' };
      if (auction.sellerId === session.sub) return { text: `Sold to ${result.winnerId} for ${price}.`, kind: 'info' };
      return {
        text: `Sold to ${result.winnerId} for ${price}.${detail.iBid ? ' You did not win this one.' : ''}`,
        kind: detail.iBid ? 'lost' : 'info',
      };
    }
    const reason = UNSOLD_TEXT[result.reason] || result.reason || 'unsold';
    return { text: `Ended without a sale: ${reason}.`, kind: 'info' };
  }

  function renderDetail() {
    const auction = detail.auction;
    if (!auction) return;
    $('auction-title').textContent = auction.title;
    document.title = `${auction.title} · Auctions`;
    const description = $('auction-description');
    description.textContent = auction.description || '';
    description.hidden = !auction.description;
    $('auction-price').textContent = auction.currentPrice
      ? formatMoney(auction.currentPrice)
      : `${formatMoney(auction.startingPrice)} (starting price)`;
    $('auction-leader').textContent = leaderText();
    $('auction-bids').textContent = String(auction.bidCount);
    const ends = $('auction-ends');
    ends.dateTime = auction.endsAt;
    ends.textContent = formatTime(auction.endsAt);
    $('auction-status').textContent = STATUS_TEXT[auction.status] || auction.status;
    $('auction-status').dataset.status = auction.status;
    $('auction-seller').textContent = auction.sellerId === session.sub ? `${auction.sellerId} (you)` : auction.sellerId;
    for (const node of document.querySelectorAll('.currency-code')) node.textContent = auction.currency;

    const open = auction.status === 'active' || auction.status === 'scheduled';
    const isSeller = auction.sellerId === session.sub;
    $('photo-form').hidden = !isSeller;
    const bidSection = $('bid-section');
    bidSection.hidden = !open || isSeller;
    $('seller-note').hidden = !(open && isSeller);
    $('bid-submit').disabled = !open || !canBid();
    $('bid-blocked').hidden = canBid();

    const result = resultText(auction);
    const banner = $('result-banner');
    if (result) {
      banner.textContent = result.text;
      // A relisted item goes on in a new auction: say where.
      if (auction.relistedAs) {
        banner.append(' The item is up again: ',
          element('a', { href: `#/auctions/${auction.relistedAs}`, text: 'see the new auction' }), '.');
      }
      banner.dataset.kind = result.kind;
      banner.className = `notice notice-${result.kind}`;
      banner.hidden = false;
      $('outbid-notice').hidden = true;
      $('bid-message').textContent = '';
      if (!detail.resultAnnounced) {
        detail.resultAnnounced = true;
        announce(result.text);
        scheduleNotificationRefresh();
      }
    } else {
      banner.hidden = true;
    }
    tickCountdown();
  }

  function tickCountdown() {
    const auction = detail.auction;
    const countdown = $('auction-countdown');
    if (!auction) { countdown.textContent = ''; return; }
    if (auction.status === 'ended' || auction.status === 'cancelled') {
      countdown.textContent = '';
      return;
    }
    const left = new Date(auction.endsAt).getTime() - Date.now();
    countdown.textContent = `(${formatCountdown(left)})`;
    // Past the end and no result yet: the push should be on its way; read it as well.
    if (left <= 0 && !detail.endCheckTimer) {
      detail.endCheckTimer = setTimeout(() => {
        detail.endCheckTimer = null;
        if (detail.auction && detail.auction.status === 'active') refreshDetail();
      }, 3000);
    }
  }
  setInterval(tickCountdown, 1000);

  let pendingBid = null; // {body, key}: a bid whose answer never came is retried with its key
  async function placeBid(event) {
    event.preventDefault();
    const auction = detail.auction;
    if (!auction) return;
    const errorLine = $('bid-error');
    const messageLine = $('bid-message');
    errorLine.textContent = '';
    messageLine.textContent = '';
    let body;
    try {
      const amount = parseMajor($('bid-amount').value, auction.currency);
      body = { amount, currency: auction.currency };
      const maxText = $('bid-max').value.trim();
      if (maxText) body.maxAmount = parseMajor(maxText, auction.currency);
    } catch (error) {
      errorLine.textContent = error.message;
      $('bid-amount').focus();
      return;
    }
    const serialized = JSON.stringify(body);
    const key = pendingBid && pendingBid.body === serialized && pendingBid.auctionId === auction.id
      ? pendingBid.key : newKey();
    pendingBid = { body: serialized, key, auctionId: auction.id };
    const button = $('bid-submit');
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      const accepted = await api(`/auctions/${auction.id}/bids`, {
        method: 'POST', body, headers: { 'Idempotency-Key': key },
      });
      pendingBid = null;
      detail.iBid = true;
      $('bid-form').reset();
      if (accepted.leading) {
        messageLine.textContent = `Bid placed: you lead at ${formatMoney(accepted.currentPrice)}.`;
      } else {
        // Another bidder's maximum answered at once (proxy bidding).
        messageLine.textContent = '';
        showOutbid(`Your bid was outbid at once by another bidder's maximum: the price is now ${formatMoney(accepted.currentPrice)}.`);
      }
      announce(messageLine.textContent || $('outbid-notice').textContent);
      await refreshDetail(accepted.version);
      // Its own push may come after this read, and is then dropped as not newer.
      scheduleBidHistoryRefresh();
    } catch (error) {
      if (error.status !== 0) pendingBid = null;
      errorLine.textContent = missingText(error);
    } finally {
      button.removeAttribute('aria-busy');
      if (detail.auction) {
        const open = detail.auction.status === 'active' || detail.auction.status === 'scheduled';
        button.disabled = !open || !canBid();
      }
    }
  }

  // ---------------------------------------------------------------------------- the list

  // The rows on screen follow the socket too (at most LIST_WATCH of them): price, end, status.
  const LIST_WATCH = 40;
  // `source` says which listing the rows are from: the auctions of a status, or the watchlist.
  const list = { cursor: null, watched: new Map(), source: 'list' }; // auction id -> {row, version}

  function unwatchList() {
    for (const id of list.watched.keys()) liveUnsubscribe(id);
    list.watched.clear();
  }

  function listPrice(auction) {
    return auction.currentPrice
      ? formatMoney(auction.currentPrice)
      : `${formatMoney(auction.startingPrice)} (start)`;
  }

  /** A row of a listing (the auctions, the watchlist), its cells updated by pushes. */
  function listRow(auction) {
    const link = element('a', { href: `#/auctions/${auction.id}`, text: auction.title });
    // data-label names each cell where a phone-sized screen stacks the row (style.css).
    return element('tr', { 'data-auction-id': auction.id },
      element('td', {}, link),
      element('td', { class: 'price', 'data-label': 'Current price', text: listPrice(auction) }),
      element('td', { 'data-label': 'Ends' }, element('time', { class: 'ends', datetime: auction.endsAt, text: formatTime(auction.endsAt) })),
      element('td', { class: 'status', 'data-label': 'Status', text: STATUS_TEXT[auction.status] || auction.status }));
  }

  async function loadList(more) {
    const status = $('list-status').value;
    const rows = $('auction-rows');
    $('list-error').textContent = '';
    if (!more) list.cursor = null;
    const params = new URLSearchParams({ status, limit: '20' });
    if (more && list.cursor) params.set('cursor', list.cursor);
    let page;
    try {
      page = await api(`/auctions?${params}`);
    } catch (error) {
      $('list-error').textContent = error.message;
      return;
    }
    if (currentRoute().name !== 'list') return;
    if (!more) {
      unwatchList();
      rows.replaceChildren();
    }
    list.source = 'list';
    for (const auction of page.items) {
      if (list.watched.has(auction.id)) continue;
      const row = listRow(auction);
      rows.append(row);
      if (list.watched.size < LIST_WATCH) {
        list.watched.set(auction.id, { row, version: auction.version });
        liveSubscribe(auction.id);
      }
    }
    list.cursor = page.nextCursor || null;
    $('list-more').hidden = !list.cursor;
    $('list-empty').hidden = rows.children.length > 0;
    $('auction-table').hidden = rows.children.length === 0;
  }

  /** The rows' state as of now, once their subscriptions are in place: one read for all. */
  let listRefreshTimer = null;
  function scheduleListRefresh() {
    clearTimeout(listRefreshTimer);
    listRefreshTimer = setTimeout(async () => {
      if (!list.watched.size) return;
      let auctions;
      try {
        if (list.source === 'watchlist') {
          auctions = (await api('/me/watchlist?limit=100')).items.map((item) => item.auction);
        } else {
          const params = new URLSearchParams({ status: $('list-status').value, limit: '100' });
          auctions = (await api(`/auctions?${params}`)).items;
        }
      } catch (_) { return; }
      for (const auction of auctions) {
        const watched = list.watched.get(auction.id);
        if (!watched || auction.version <= watched.version) continue;
        watched.version = auction.version;
        watched.row.querySelector('.price').textContent = listPrice(auction);
        watched.row.querySelector('.status').textContent = STATUS_TEXT[auction.status] || auction.status;
        const time = watched.row.querySelector('.ends');
        time.dateTime = auction.endsAt;
        time.textContent = formatTime(auction.endsAt);
      }
    }, 300);
  }

  function applyListPush(message) {
    const watched = list.watched.get(message.auctionId);
    if (!watched || typeof message.version !== 'number' || message.version <= watched.version) return;
    watched.version = message.version;
    const { row } = watched;
    const setEnds = (endsAt) => {
      const time = row.querySelector('.ends');
      time.dateTime = endsAt;
      time.textContent = formatTime(endsAt);
    };
    switch (message.type) {
      case 'bidPlaced':
        row.querySelector('.price').textContent = formatMoney(message.currentPrice);
        row.querySelector('.status').textContent = STATUS_TEXT.active;
        if (message.endsAt) setEnds(message.endsAt);
        break;
      case 'extended':
        setEnds(message.endsAt);
        break;
      case 'ended':
        row.querySelector('.status').textContent = STATUS_TEXT.ended;
        if (message.result && message.result.finalPrice) {
          row.querySelector('.price').textContent = formatMoney(message.result.finalPrice);
        }
        break;
      case 'cancelled':
        row.querySelector('.status').textContent = STATUS_TEXT.cancelled;
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------------------- the watchlist

  const watching = new Set(); // the ids of the auctions on the user's watchlist

  /** Pages of a watchlist read in turn; a bound, so that a broken cursor cannot loop. */
  const WATCHLIST_PAGES = 50;

  /** Every watched auction, a page of 100 at a time. */
  async function allWatched() {
    const items = [];
    let cursor = null;
    for (let page = 0; page < WATCHLIST_PAGES; page += 1) {
      const query = new URLSearchParams({ limit: '100' });
      if (cursor) query.set('cursor', cursor);
      const answer = await api(`/me/watchlist?${query}`);
      items.push(...answer.items);
      cursor = answer.nextCursor;
      if (!cursor) break;
    }
    return items;
  }

  async function loadWatching() {
    let items;
    try { items = await allWatched(); } catch (_) { return; }
    watching.clear();
    for (const { auction } of items) watching.add(auction.id);
    renderWatchToggle();
  }

  function renderWatchToggle() {
    $('watch-toggle').setAttribute('aria-pressed', String(Boolean(detail.id && watching.has(detail.id))));
  }

  async function toggleWatch() {
    const id = detail.id;
    if (!id) return;
    const on = watching.has(id);
    const button = $('watch-toggle');
    button.disabled = true;
    $('detail-error').textContent = '';
    try {
      await api(`/me/watchlist/${id}`, { method: on ? 'DELETE' : 'PUT' });
      if (on) watching.delete(id); else watching.add(id);
      announce(on ? 'Removed from your watchlist.' : 'On your watchlist: it is followed live there.');
    } catch (error) {
      $('detail-error').textContent = error.message;
    } finally {
      button.disabled = false;
      renderWatchToggle();
    }
  }

  /** The watched auctions as a table whose rows (the first LIST_WATCH) follow the socket. */
  async function loadWatchlist() {
    const rows = $('watchlist-rows');
    $('watchlist-error').textContent = '';
    let page;
    try {
      page = { items: await allWatched() };
    } catch (error) {
      $('watchlist-error').textContent = error.message;
      return;
    }
    if (currentRoute().name !== 'watchlist') return;
    unwatchList();
    rows.replaceChildren();
    list.source = 'watchlist';
    watching.clear();
    for (const { auction } of page.items) {
      watching.add(auction.id);
      const row = listRow(auction);
      rows.append(row);
      if (list.watched.size < LIST_WATCH) {
        list.watched.set(auction.id, { row, version: auction.version });
        liveSubscribe(auction.id);
      }
    }
    $('watchlist-empty').hidden = rows.children.length > 0;
    $('watchlist-table').hidden = rows.children.length === 0;
  }

  // ------------------------------------------------------------------------ the seller's page

  const selling = { cursor: null };

  function sellingResult(auction) {
    const result = auction.result;
    if (auction.status === 'cancelled') return 'Cancelled';
    if (!result) return '—';
    if (result.outcome === 'sold') return `Sold to ${result.winnerId} for ${formatMoney(result.finalPrice)}`;
    return `Unsold: ${UNSOLD_TEXT[result.reason] || result.reason}`;
  }

  function sellingReserve(auction) {
    if (!auction.hasReserve) return 'No reserve';
    return auction.reserveMet ? 'Met' : 'Not met';
  }

  async function loadSelling(more) {
    const rows = $('selling-rows');
    $('selling-error').textContent = '';
    if (!more) selling.cursor = null;
    const params = new URLSearchParams({ limit: '20' });
    if (more && selling.cursor) params.set('cursor', selling.cursor);
    let page;
    try {
      page = await api(`/me/auctions?${params}`);
    } catch (error) {
      $('selling-error').textContent = error.message;
      return;
    }
    if (currentRoute().name !== 'selling') return;
    if (!more) rows.replaceChildren();
    for (const { auction, payout, relistable } of page.items) {
      const link = element('a', { href: `#/auctions/${auction.id}`, text: auction.title });
      const result = element('td', { class: 'result', 'data-label': 'Result', text: sellingResult(auction) });
      if (auction.relistedAs) {
        result.append(' · ', element('a', { href: `#/auctions/${auction.relistedAs}`, text: 'relisted' }));
      } else if (relistable) {
        const button = element('button', { type: 'button', class: 'relist', text: 'Relist' });
        button.setAttribute('aria-label', `Relist “${auction.title}”`);
        button.addEventListener('click', () => relist(auction, button));
        result.append(' ', button);
      }
      rows.append(element('tr', { 'data-auction-id': auction.id },
        element('td', {}, link),
        element('td', { class: 'status', 'data-label': 'Status', text: STATUS_TEXT[auction.status] || auction.status }),
        element('td', { class: 'bids', 'data-label': 'Bids', text: String(auction.bidCount) }),
        element('td', { class: 'reserve', 'data-label': 'Reserve', text: sellingReserve(auction) }),
        result,
        element('td', { class: 'payout', 'data-label': 'Payout', 'data-payout': payout, text: PAYOUT_TEXT[payout] || payout })));
    }
    selling.cursor = page.nextCursor || null;
    $('selling-more').hidden = !selling.cursor;
    $('selling-empty').hidden = rows.children.length > 0;
    $('selling-table').hidden = rows.children.length === 0;
  }

  /**
   * Puts an unsold item up again (POST /auctions/{id}/relist) for as long as it first ran,
   * at least a minute, then opens the new auction. Asking twice makes one auction.
   */
  async function relist(auction, button) {
    $('selling-error').textContent = '';
    const ran = Date.parse(auction.endsAt) - Date.parse(auction.startsAt);
    const endsAt = new Date(Date.now() + Math.max(ran, 60000)).toISOString();
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      const relisted = await api(`/auctions/${auction.id}/relist`, { method: 'POST', body: { endsAt } });
      announce(`“${auction.title}” is up again.`);
      location.hash = `#/auctions/${relisted.auctionId}`;
    } catch (error) {
      $('selling-error').textContent = missingText(error);
      button.disabled = false;
    } finally {
      button.removeAttribute('aria-busy');
    }
  }

  // ------------------------------------------------------------------------ notifications

  let notifications = [];
  let notificationTimer = null;

  async function loadNotifications() {
    if (!session.token) return;
    try {
      const page = await api('/me/notifications?limit=50');
      notifications = page.items || [];
      $('notifications-error').textContent = '';
    } catch (error) {
      $('notifications-error').textContent = error.message;
      return;
    }
    renderNotifications();
  }

  function scheduleNotificationRefresh() {
    // The notifier writes a moment after the event: read a little later.
    clearTimeout(notificationTimer);
    notificationTimer = setTimeout(loadNotifications, 1500);
  }

  function notificationItem(n) {
    return element('li', { 'data-kind': n.kind },
      element('p', { text: n.text }),
      element('p', { class: 'meta' },
        element('time', { datetime: n.occurredAt, text: formatTime(n.occurredAt) }),
        ' · ',
        element('a', { href: `#/auctions/${n.auctionId}`, text: n.auctionTitle })));
  }

  function renderNotifications() {
    const listNode = $('notification-list');
    listNode.replaceChildren(...notifications.map(notificationItem));
    $('notifications-empty').hidden = notifications.length > 0;
    const seen = sessionStorage.getItem(SEEN_KEY) || '';
    if (currentRoute().name === 'notifications' && notifications.length) {
      sessionStorage.setItem(SEEN_KEY, notifications[0].id);
    }
    const unseen = notifications.filter((n) => n.id > (sessionStorage.getItem(SEEN_KEY) || seen)).length;
    const badge = $('notification-count');
    badge.textContent = unseen ? `${unseen} new` : '';
    badge.hidden = unseen === 0;
    renderAuctionNotifications();
  }

  function renderAuctionNotifications() {
    const mine = detail.id ? notifications.filter((n) => n.auctionId === detail.id) : [];
    $('auction-notification-list').replaceChildren(...mine.map(notificationItem));
    $('auction-notifications-empty').hidden = mine.length > 0;
  }

  // ------------------------------------------------------------------------- bid history

  // The auction's accepted bids, newest first (GET /auctions/{id}/bids), a page at a time. The
  // API shows other bidders masked (b***b) and the user's own bids in full (`yours`); a push of
  // a new bid reads the newest page again.
  const bidHistory = { bids: [], next: null };
  let bidHistoryTimer = null;

  async function loadBidHistory(more) {
    const id = detail.id;
    if (!id || !session.token) return;
    const cursor = more && bidHistory.next ? `&cursor=${encodeURIComponent(bidHistory.next)}` : '';
    try {
      const page = await api(`/auctions/${id}/bids?limit=10${cursor}`);
      if (detail.id !== id) return;
      bidHistory.bids = more ? bidHistory.bids.concat(page.bids) : page.bids;
      bidHistory.next = page.nextCursor;
      $('bid-history-error').textContent = '';
    } catch (error) {
      if (detail.id === id) $('bid-history-error').textContent = error.message;
      return;
    }
    renderBidHistory();
  }

  function scheduleBidHistoryRefresh() {
    clearTimeout(bidHistoryTimer);
    bidHistoryTimer = setTimeout(() => loadBidHistory(false), 300);
  }

  function renderBidHistory() {
    $('bid-history-list').replaceChildren(...bidHistory.bids.map((bid) =>
      element('li', { 'data-yours': bid.yours ? 'true' : 'false' },
        element('span', { class: 'bidder', text: bid.yours ? `${bid.bidderId} (you)` : bid.bidderId }),
        ' bid ',
        element('span', { class: 'amount', text: formatMoney(bid.amount) }),
        ' · ',
        element('time', { datetime: bid.placedAt, text: formatTime(bid.placedAt) }))));
    $('bid-history-empty').hidden = bidHistory.bids.length > 0;
    $('bid-history-more').hidden = !bidHistory.next;
  }

  // ------------------------------------------------------------------------- payments

  // What the signed-in user has on file to pay and be paid (GET /me/payment-identity): null
  // until known. Bidding and buying need a card, selling a payout account; the API refuses
  // them otherwise (PAYMENT_METHOD_REQUIRED, PAYOUT_ACCOUNT_REQUIRED), and the page says so
  // before the user tries.
  let identity = null;

  /**
   * Whether this server makes test cards and payout accounts for a demo user (api-local --dev:
   * POST /demo/payment-method and /demo/payout-account, over the local Stripe emulator).
   * Deployed (config.json with Cognito) there is no such route: ids are made with Stripe.
   */
  const demoPayments = () => !cognito();

  const canBid = () => identity === null || identity.canBid !== false;
  const canSell = () => identity === null || identity.canSell !== false;

  function brandName(brand) {
    const text = String(brand || 'card');
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  async function loadIdentity() {
    if (!session.token) return;
    try {
      identity = await api('/me/payment-identity');
      $('payment-error').textContent = '';
    } catch (error) {
      if (error.status === 401) return;
      $('payment-error').textContent = `Your payment details cannot be read: ${error.message}`;
    }
    renderIdentity();
  }

  function renderIdentity() {
    const panel = $('payment-panel');
    panel.hidden = !session.token;
    const known = identity !== null;
    const method = known ? identity.paymentMethod : null;
    const payout = known ? identity.payoutAccountId : null;
    const card = $('payment-card');
    card.dataset.state = !known ? 'unknown' : method ? 'on-file' : 'missing';
    card.textContent = !known ? 'Card: checking…'
      : method ? `Card: ${brandName(method.brand)} ending ${method.last4}`
        : 'No card on file: you cannot bid or buy yet.';
    const account = $('payout-account');
    account.dataset.state = !known ? 'unknown' : payout ? 'on-file' : 'missing';
    account.textContent = !known ? 'Payout account: checking…'
      : payout ? `Payout account: ${payout}`
        : 'No payout account: you cannot sell yet.';
    $('add-card').hidden = !known || Boolean(method) || !demoPayments();
    $('add-payout-account').hidden = !known || Boolean(payout) || !demoPayments();
    const hint = $('payment-hint');
    hint.hidden = !known || (Boolean(method) && Boolean(payout));
    hint.textContent = demoPayments()
      ? 'This is a demo: the buttons make a test card or a payout account in the local Stripe emulator and register it for you.'
      : 'Register a card with PUT /me/payment-method (a Stripe customer and a card attached to it) and a payout account with PUT /me/payout-account (a Stripe connected account).';
    panel.dataset.complete = String(Boolean(method && payout));
    renderBlocks();
  }

  /** The bid and create controls explain, and refuse, what the user cannot do yet. */
  function renderBlocks() {
    $('bid-blocked').hidden = canBid();
    $('create-blocked').hidden = canSell();
    $('create-submit').disabled = !canSell();
    const auction = detail.auction;
    const open = Boolean(auction) && (auction.status === 'active' || auction.status === 'scheduled');
    $('bid-submit').disabled = !open || !canBid();
  }

  async function addDemoPayment(path, button, what) {
    $('payment-error').textContent = '';
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      identity = await api(path, { method: 'POST' });
      announce(`${what} added.`);
    } catch (error) {
      $('payment-error').textContent = error.message;
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
    renderIdentity();
  }

  /** A refusal for what is missing: the page's own words, and what is on file read again. */
  function missingText(error) {
    if (error.code === 'PAYMENT_METHOD_REQUIRED') {
      loadIdentity();
      return 'You need a card on file to bid or buy: add one under Payments above.';
    }
    if (error.code === 'PAYOUT_ACCOUNT_REQUIRED') {
      loadIdentity();
      return 'You need a payout account to sell: add one under Payments above.';
    }
    return error.message;
  }

  // --------------------------------------------------------------------------- create

  let createKey = null;
  async function createAuction(event) {
    event.preventDefault();
    const errorLine = $('create-error');
    errorLine.textContent = '';
    const form = event.target;
    const currency = 'EUR';
    let body;
    try {
      const title = form.title.value.trim();
      if (!title) throw new Error('Give the item a title.');
      const minutes = Number(form.minutes.value);
      if (!Number.isInteger(minutes) || minutes < 1) throw new Error('Run it for at least one minute.');
      body = {
        title,
        currency,
        startingPrice: parseMajor(form.startingPrice.value, currency),
        endsAt: new Date(Date.now() + minutes * 60000).toISOString(),
      };
      const description = form.description.value.trim();
      if (description) body.description = description;
      if (form.buyNowPrice.value.trim()) body.buyNowPrice = parseMajor(form.buyNowPrice.value, currency);
    } catch (error) {
      errorLine.textContent = error.message;
      return;
    }
    createKey = createKey || newKey();
    try {
      const created = await api('/auctions', {
        method: 'POST', body, headers: { 'Idempotency-Key': createKey },
      });
      createKey = null;
      form.reset();
      announce(`Created “${body.title}”.`);
      location.hash = `#/auctions/${created.auctionId}`;
    } catch (error) {
      if (error.status !== 0) createKey = null;
      errorLine.textContent = missingText(error);
    }
  }

  // ---------------------------------------------------------------------- email notices

  const EMAIL_TOPICS = ['outbid', 'won', 'lost', 'payment', 'selling', 'endingSoon'];
  let unsubscribeToken = null;

  function renderEmailPreferences(preferences) {
    const form = $('email-preferences-form');
    for (const topic of EMAIL_TOPICS) form.elements[topic].checked = preferences[topic] === true;
    $('email-address').textContent = preferences.email
      ? `Emails go to ${preferences.email}, your account's verified address.`
      : 'Your account has no verified email address, so emails cannot be turned on.';
  }

  async function loadEmailPreferences() {
    if (!session.token) return;
    $('email-preferences-error').textContent = '';
    $('email-preferences-status').textContent = '';
    $('email-address').textContent = 'Checking your email settings…';
    try {
      renderEmailPreferences(await api('/me/notification-preferences'));
    } catch (error) {
      $('email-preferences-error').textContent = error.message;
    }
  }

  async function saveEmailPreferences(event) {
    event.preventDefault();
    const form = $('email-preferences-form');
    const body = Object.fromEntries(EMAIL_TOPICS.map((topic) => [topic, form.elements[topic].checked]));
    $('email-preferences-status').textContent = '';
    $('email-preferences-error').textContent = '';
    try {
      const saved = await api('/me/notification-preferences', { method: 'PUT', body });
      renderEmailPreferences(saved);
      $('email-preferences-status').textContent = saved.email
        ? `Saved: emails go to ${saved.email}.` : 'Saved: no emails.';
    } catch (error) {
      $('email-preferences-error').textContent = error.message;
    }
  }

  async function unsubscribe() {
    const button = $('unsubscribe-button');
    $('unsubscribe-result').textContent = '';
    $('unsubscribe-error').textContent = '';
    button.disabled = true;
    try {
      const answer = await api(`/unsubscribe?token=${encodeURIComponent(unsubscribeToken || '')}`,
        { method: 'POST' });
      $('unsubscribe-result').textContent = answer.message;
    } catch (error) {
      $('unsubscribe-error').textContent = error.message;
      button.disabled = false;
    }
  }

  // --------------------------------------------------------------------------- session

  async function signIn(event) {
    event.preventDefault();
    const input = $('sign-in-name');
    const errorLine = $('sign-in-error');
    errorLine.textContent = '';
    const sub = input.value.trim();
    // What the API takes as a user id: 1 to 128 characters, none of them control characters.
    if (!sub || [...sub].length > 128 || /\p{Cc}/u.test(sub)) {
      errorLine.textContent = 'Enter a name of 1 to 128 characters, e.g. bidder-bob.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    const email = $('sign-in-email').value.trim();
    try {
      const answer = await api('/dev/token', { method: 'POST', body: email ? { sub, email } : { sub } });
      saveSession({ token: answer.token, sub: answer.sub || sub });
    } catch (error) {
      errorLine.textContent = error.status === 404
        ? 'Demo sign-in is not available on this server (api-local needs --dev).'
        : error.message;
      return;
    }
    signedIn();
  }

  function signedIn() {
    announce(`Signed in as ${session.name || session.sub}.`);
    identity = null;
    renderSession();
    liveConnect();
    loadNotifications();
    loadIdentity();
    loadWatching();
    route();
    // The detail may have been shown before the sign-in: its history needs the token.
    loadBidHistory(false);
  }

  /** Keeps a session in memory and in this tab's sessionStorage. */
  function saveSession(next) {
    Object.assign(session, { name: null, refresh: null, expiresAt: null }, next);
    const stored = {
      [TOKEN_KEY]: session.token, [SUB_KEY]: session.sub, [NAME_KEY]: session.name,
      [REFRESH_KEY]: session.refresh, [EXPIRES_KEY]: session.expiresAt && String(session.expiresAt),
    };
    for (const [key, value] of Object.entries(stored)) {
      if (value) sessionStorage.setItem(key, value);
      else sessionStorage.removeItem(key);
    }
  }

  /** Where sign-in messages go: under the demo form, or under the account sign-in button. */
  function signInErrorLine() {
    return cognito() ? $('account-sign-in-error') : $('sign-in-error');
  }

  function signOut(message) {
    const expired = typeof message === 'string';
    const refresh = session.refresh;
    saveSession({ token: null, sub: null });
    sessionStorage.removeItem(SEEN_KEY);
    notifications = [];
    identity = null;
    unwatchList();
    live.wanted.clear();
    liveDisconnect();
    renderSession();
    route();
    if (expired) {
      signInErrorLine().textContent = message;
      announce(message);
    }
    const account = cognito();
    if (account && !expired) {
      // Revoke the refresh token (best effort) and end the hosted UI's session, which sends
      // the browser back here signed out.
      if (refresh) {
        const revoke = Auth.revokeRequest(account, refresh);
        fetch(revoke.url, revoke.init).catch(() => {});
      }
      location.assign(Auth.logoutUrl(account));
    }
  }

  // ------------------------------------------------------------- Cognito (config.json)

  function tokenExpiresSoon() {
    return Boolean(cognito() && session.token && session.expiresAt
      && session.expiresAt - Date.now() < RENEW_BEFORE_MS);
  }

  /** The tokens of a /oauth2/token answer, as the session: the ID token is the Bearer token. */
  function adoptTokens(tokens, refresh) {
    const account = cognito();
    const who = Auth.identity(Auth.decodeJwt(tokens.id_token), account.clientId);
    saveSession({
      token: tokens.id_token,
      sub: who.sub,
      name: who.name,
      expiresAt: who.expiresAt,
      refresh: tokens.refresh_token || refresh || null,
    });
  }

  async function postToken(request) {
    const response = await fetch(request.url, request.init);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok || !data || !data.id_token) {
      const error = new Error((data && (data.error_description || data.error)) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  /**
   * Renews the ID token with the refresh token when it expires soon (one renewal at a time).
   * A refused refresh token ends the session; a network failure keeps the old token.
   */
  let renewal = null;
  function freshToken() {
    if (!tokenExpiresSoon()) return Promise.resolve();
    if (!session.refresh) {
      if (session.expiresAt <= Date.now()) signOut('Your session has expired: sign in again.');
      return Promise.resolve();
    }
    if (!renewal) {
      const refresh = session.refresh;
      renewal = postToken(Auth.refreshRequest(cognito(), refresh))
        .then((tokens) => {
          if (session.refresh === refresh) adoptTokens(tokens, refresh);
        })
        .catch((error) => {
          if (error.status === 400 && session.refresh === refresh) {
            signOut('Your session has expired: sign in again.');
          }
        })
        .finally(() => { renewal = null; });
    }
    return renewal;
  }

  /** To the hosted UI: a fresh PKCE verifier and state, kept in this tab until the redirect back. */
  async function startAccountSignIn() {
    const errorLine = $('account-sign-in-error');
    errorLine.textContent = '';
    const account = cognito();
    try {
      const verifier = Auth.randomToken(32);
      const state = Auth.randomToken(16);
      const challenge = await Auth.codeChallenge(verifier);
      sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
      location.assign(Auth.authorizeUrl(account, { state, challenge }));
    } catch (_) {
      errorLine.textContent = 'This browser cannot sign in here (it needs Web Crypto over HTTPS).';
    }
  }

  /**
   * Back from the hosted UI (`?code=…&state=…` or `?error=…`): checks the state, exchanges the
   * code with its verifier, and puts the page back where it was, without the query string.
   */
  async function completeAccountSignIn() {
    const callback = Auth.callbackParams(location.search);
    if (!callback) return;
    let pending = null;
    try { pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null'); } catch (_) { pending = null; }
    sessionStorage.removeItem(PKCE_KEY);
    history.replaceState(null, '', `${location.pathname}${(pending && pending.hash) || location.hash}`);
    const errorLine = $('account-sign-in-error');
    if (callback.error) {
      errorLine.textContent = `Sign-in failed: ${callback.errorDescription || callback.error}.`;
      return;
    }
    if (!pending || !pending.verifier || callback.state !== pending.state) {
      errorLine.textContent = 'This sign-in was not started in this tab: sign in again.';
      return;
    }
    try {
      adoptTokens(await postToken(Auth.codeExchange(cognito(), { code: callback.code, verifier: pending.verifier })));
    } catch (error) {
      errorLine.textContent = `Sign-in failed: ${error.message || 'the sign-in service cannot be reached'}. Try again.`;
      return;
    }
    announce(`Signed in as ${session.name || session.sub}.`);
  }

  /** Loads ./config.json; absent (any answer but 2xx, or no answer): the local defaults. */
  async function loadConfig() {
    let response;
    try {
      response = await fetch(new URL('config.json', location.href), { cache: 'no-store' });
    } catch (_) {
      return Auth.defaultConfig();
    }
    if (!response.ok) return Auth.defaultConfig();
    let raw;
    try {
      raw = await response.json();
    } catch (_) {
      throw new Error('config.json is not JSON');
    }
    return Auth.parseConfig(raw);
  }

  function renderSession() {
    const who = $('signed-in-as');
    who.textContent = session.sub ? `Signed in as ${session.name || session.sub}` : '';
    who.title = session.name && session.name !== session.sub ? `User id ${session.sub}` : '';
    who.hidden = !session.sub;
    $('sign-out').hidden = !session.sub;
    $('live-state').hidden = !session.sub;
    document.querySelector('.site-header nav').hidden = !session.sub;
    renderIdentity();
  }

  // ---------------------------------------------------------------------------- routing

  function currentRoute() {
    const hash = location.hash.replace(/^#/, '') || '/';
    const auction = /^\/auctions\/([^/]+)$/.exec(hash);
    if (auction && UUID.test(auction[1])) return { name: 'detail', id: auction[1].toLowerCase() };
    if (hash === '/create') return { name: 'create' };
    if (hash === '/notifications') return { name: 'notifications' };
    if (hash === '/selling') return { name: 'selling' };
    if (hash === '/watchlist') return { name: 'watchlist' };
    if (hash === '/preferences') return { name: 'preferences' };
    const unsubscribe = /^\/unsubscribe\/([A-Za-z0-9._-]{1,1024})$/.exec(hash);
    if (unsubscribe) return { name: 'unsubscribe', token: unsubscribe[1] };
    return { name: 'list' };
  }

  const VIEWS = ['sign-in', 'list-view', 'detail-view', 'create-view', 'notifications-view', 'selling-view', 'watchlist-view', 'unsubscribe-view'];
  let lastView = null;

  function show(viewId) {
    for (const id of VIEWS) $(id).hidden = id !== viewId;
    if (lastView !== null && lastView !== viewId) {
      // Move focus to the new view's heading, as a page load would.
      const heading = $(viewId).querySelector('h1');
      if (heading) {
        heading.setAttribute('tabindex', '-1');
        heading.focus();
      }
    }
    lastView = viewId;
  }

  function route() {
    const next = currentRoute();
    if (next.name !== 'list' && next.name !== 'watchlist') unwatchList();
    if (detail.id && (next.name !== 'detail' || next.id !== detail.id)) {
      liveUnsubscribe(detail.id);
      resetDetail(null);
    }
    if (next.name === 'unsubscribe') {
      // The link's token is its authority: no sign-in needed.
      document.title = 'Unsubscribe · Auctions';
      unsubscribeToken = next.token;
      $('unsubscribe-result').textContent = '';
      $('unsubscribe-error').textContent = '';
      $('unsubscribe-button').disabled = false;
      show('unsubscribe-view');
      return;
    }
    if (!session.token) {
      document.title = 'Sign in · Auctions';
      show('sign-in');
      return;
    }
    switch (next.name) {
      case 'detail':
        show('detail-view');
        if (detail.id !== next.id) {
          resetDetail(next.id);
          liveSubscribe(next.id);
          refreshDetail();
          loadPhotos();
          loadBidHistory(false);
          renderAuctionNotifications();
        }
        break;
      case 'create':
        document.title = 'Sell an item · Auctions';
        show('create-view');
        break;
      case 'watchlist':
        document.title = 'Watchlist · Auctions';
        show('watchlist-view');
        loadWatchlist();
        break;
      case 'selling':
        document.title = 'My auctions · Auctions';
        show('selling-view');
        loadSelling(false);
        break;
      case 'notifications':
        document.title = 'Notifications · Auctions';
        show('notifications-view');
        loadNotifications();
        loadEmailPreferences();
        break;
      case 'preferences':
        document.title = 'Email notices · Auctions';
        show('notifications-view');
        loadNotifications();
        loadEmailPreferences();
        $('email-preferences-heading').setAttribute('tabindex', '-1');
        $('email-preferences-heading').focus();
        break;
      default:
        document.title = 'Auctions';
        show('list-view');
        loadList(false);
        break;
    }
  }

  // ------------------------------------------------------------------------------ start

  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut());
  $('bid-form').addEventListener('submit', placeBid);
  $('create-form').addEventListener('submit', createAuction);
  $('list-filter').addEventListener('submit', (event) => { event.preventDefault(); loadList(false); });
  $('list-status').addEventListener('change', () => loadList(false));
  $('list-more').addEventListener('click', () => loadList(true));
  $('bid-history-more').addEventListener('click', () => loadBidHistory(true));
  $('notifications-refresh').addEventListener('click', loadNotifications);
  $('selling-refresh').addEventListener('click', () => loadSelling(false));
  $('watch-toggle').addEventListener('click', toggleWatch);
  $('email-preferences-form').addEventListener('submit', saveEmailPreferences);
  $('photo-file').addEventListener('change', addPhotos);
  $('photo-form').addEventListener('submit', (event) => event.preventDefault());
  $('unsubscribe-button').addEventListener('click', unsubscribe);
  $('selling-more').addEventListener('click', () => loadSelling(true));
  $('add-card').addEventListener('click', (event) =>
    addDemoPayment('/demo/payment-method', event.currentTarget, 'Test card'));
  $('add-payout-account').addEventListener('click', (event) =>
    addDemoPayment('/demo/payout-account', event.currentTarget, 'Payout account'));
  window.addEventListener('hashchange', route);
  // Notifications every 15 s while the page is in view; the socket brings everything else.
  setInterval(() => {
    if (session.token && document.visibilityState === 'visible') loadNotifications();
  }, 15000);

  $('account-sign-in-button').addEventListener('click', startAccountSignIn);

  async function start() {
    let configError = null;
    try {
      config = await loadConfig();
    } catch (error) {
      configError = `This page is misconfigured (${error.message}): it cannot sign you in.`;
    }
    const account = cognito();
    // The sign-in view offers the demo form locally, the hosted UI's sign-in with Cognito.
    $('demo-sign-in-intro').hidden = Boolean(account || configError);
    $('sign-in-form').hidden = Boolean(account || configError);
    $('account-sign-in').hidden = !account && !configError;
    $('account-sign-in-button').hidden = Boolean(configError);
    if (configError) {
      $('account-sign-in-error').textContent = configError;
      saveSession({ token: null, sub: null });
    } else if (account) {
      await completeAccountSignIn();
    }
    renderSession();
    setLiveState('offline');
    if (session.token) {
      liveConnect();
      loadNotifications();
      loadIdentity();
      loadWatching();
    }
    route();
  }

  start();
})();
