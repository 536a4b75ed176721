// netdl for C#: Unity (Mono and IL2CPP), Godot .NET, any .NET with P/Invoke.
// One file, no dependencies: copy it into the project next to the native
// library (libnetdl.so / netdl.dll / libnetdl.dylib). See README.md,
// "netdl in Unity and Godot (C#)".
//
//     using Netdl;
//     NetRequest req = NetDl.Download(url, "packs/pack.bin", NetDir.Caches,
//                                     new NetOptions { Progress = true });
//     req.Progress += e => bar = e.BytesEstimated > 0 ? (float)e.BytesTransferred / e.BytesEstimated : 0;
//     req.Ended += e => { if (e.Ok) LoadPack(e.Path); else Debug.Log(e); };
//     // every frame (Unity's Update, Godot's _Process):
//     NetDl.Poll();
//
// Threads. No managed code is ever called from a netdl thread: no delegate
// is passed to native code at all (so IL2CPP needs nothing special). The
// binding has its own netdl event queue (net_queue_create); NetDl.Poll()
// takes its events, copies each one whole into a managed NetEvent (strings,
// headers, body) before the next poll, and raises the request's C# events
// on the thread that calls Poll. NetDl.Restore restores into that queue and
// hands each restored download's NetRequest to its callback. Download, Request and Cancel may be called
// from any thread; call Poll from one thread (the main thread).
//
// Tasks. DownloadAsync / RequestAsync complete when Poll dispatches the
// request's ended event, so Poll must keep being called (once per frame).
// Cancelling their CancellationToken cancels the request (net_cancel) and
// the task at once.
//
// Memory. Strings and headers passed in are copied into native memory that
// is freed before the call returns (netdl copies everything it keeps);
// event memory owned by netdl is never kept past the poll that returned it.

using System;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Netdl
{
    /// <summary>A base directory (NET_DIR_*).</summary>
    public enum NetDir : uint
    {
        Documents = 0,
        Temporary = 1,
        Caches = 2,
        ApplicationSupport = 3,
        /// <summary>The executable's folder; read-only (a source of body files).</summary>
        Resource = 4,
    }

    /// <summary>What an event reports (NET_PHASE_*).</summary>
    public enum NetPhase : uint
    {
        Began = 0,
        Progress = 1,
        Ended = 2,
    }

    /// <summary>What went wrong (NET_ERROR_*). Newer libraries may add values.</summary>
    public enum NetError : uint
    {
        None = 0,
        InvalidArgument = 1,
        UnsupportedScheme = 2,
        Dns = 3,
        Connect = 4,
        Tls = 5,
        Timeout = 6,
        Network = 7,
        Protocol = 8,
        TooManyRedirects = 9,
        TooLarge = 10,
        Io = 11,
        Internal = 12,
        Integrity = 13,
    }

    /// <summary>Bits of NetEvent.Flags (NET_EVENT_*).</summary>
    [Flags]
    public enum NetEventFlags : uint
    {
        None = 0,
        /// <summary>IfChanged: the server answered 304, the file was not touched.</summary>
        Unchanged = 1,
        /// <summary>This attempt continued data received earlier (a Range request).</summary>
        Resumed = 2,
        /// <summary>Started by NetDl.Restore from the journal of an earlier process.</summary>
        Restored = 4,
    }

    /// <summary>How a request body is labelled without a Content-Type header (NET_BODY_*).</summary>
    public enum NetBodyType : uint
    {
        Auto = 0,
        Text = 1,
        Binary = 2,
    }

    /// <summary>Whether a response body looks like text (NET_RESPONSE_*).</summary>
    public enum NetResponseType : uint
    {
        Text = 0,
        Binary = 1,
    }

    public enum NetRequestState
    {
        /// <summary>Started; its ended event has not been dispatched yet.</summary>
        Running,
        /// <summary>Its ended event was dispatched (see NetRequest.Result).</summary>
        Ended,
        /// <summary>Cancelled (Cancel, Dispose, a task's token, NetDl.Close): no more events.</summary>
        Cancelled,
    }

    /// <summary>
    /// Options of one request: every net_params and net_options field. Every
    /// property left at its default means netdl's default.
    /// </summary>
    public sealed class NetOptions
    {
        /// <summary>The HTTP method (default GET). NetDl.Request's method argument, when given, wins.</summary>
        public string Method { get; set; }

        /// <summary>Request headers (a Dictionary, or a list of pairs to repeat a name).</summary>
        public IEnumerable<KeyValuePair<string, string>> Headers { get; set; }

        /// <summary>Request body, sent as is.</summary>
        public byte[] Body { get; set; }

        /// <summary>Send this file (relative to BodyFileDir) as the body instead.</summary>
        public string BodyFile { get; set; }
        public NetDir BodyFileDir { get; set; }

        /// <summary>The body's label without a Content-Type header; Auto: text for Body, binary for BodyFile.</summary>
        public NetBodyType BodyType { get; set; }

        /// <summary>Inactivity timeout in seconds; 0 means 30.</summary>
        public uint TimeoutSeconds { get; set; }

        /// <summary>Raise Began and Progress events too (of the response body).</summary>
        public bool Progress { get; set; }

        /// <summary>Began and Progress report the request body being sent (turns Progress on).</summary>
        public bool UploadProgress { get; set; }

        /// <summary>false: report a 3xx instead of following it.</summary>
        public bool FollowRedirects { get; set; } = true;

        /// <summary>Redirects followed at most; 0 means 10.</summary>
        public uint MaxRedirects { get; set; }

        /// <summary>PEM file of CA certificates to trust instead of the system's.</summary>
        public string CaFile { get; set; }

        /// <summary>Largest response body accepted (NetError.TooLarge beyond it); 0: 64 MiB for requests, none for downloads.</summary>
        public ulong MaxBody { get; set; }

        /// <summary>Transient failures retried at most (at most 100).</summary>
        public uint MaxRetries { get; set; }

        /// <summary>Base of the retry backoff in ms; 0 means 1000.</summary>
        public uint RetryDelayMs { get; set; }

        /// <summary>Cap of the retry backoff in ms; 0 means 30000.</summary>
        public uint RetryMaxDelayMs { get; set; }

        /// <summary>Downloads: the file's size; another fails with NetError.Integrity. 0: not checked.</summary>
        public ulong ExpectedSize { get; set; }

        /// <summary>Downloads: the file's SHA-256, 64 hex digits; a mismatch fails with NetError.Integrity.</summary>
        public string Sha256 { get; set; }

        /// <summary>Other URLs of the same file, tried in order after the URL fails.</summary>
        public IList<string> Mirrors { get; set; }

        /// <summary>The proxy ("http://host:port", "socks5h://host:port"); null: the environment's; "": none.</summary>
        public string Proxy { get; set; }

        /// <summary>Downloads: ask for a compressed response (cannot resume).</summary>
        public bool Compress { get; set; }

        /// <summary>Downloads: keep a cancelled download's data so a later download of it resumes.</summary>
        public bool KeepPartial { get; set; }

        /// <summary>Downloads: ask whether the existing file changed; a 304 ends with NetEventFlags.Unchanged.</summary>
        public bool IfChanged { get; set; }

        /// <summary>Downloads: fetch a large file over up to this many ranged connections at once
        /// (at most 16, else NetError.InvalidArgument; 0 or 1: one), when the server allows ranges
        /// and each part is at least 4 MiB.</summary>
        public uint Segments { get; set; }

        /// <summary>Higher starts first (negative is lower): queued requests start by priority, then in
        /// submission order; under NetDl.SetMaxSpeed running ones share the cap by it. See NetDl.SetPriority.</summary>
        public int Priority { get; set; }

        /// <summary>Largest receive rate of this request in bytes per second; 0: none.</summary>
        public ulong MaxSpeed { get; set; }

        /// <summary>A string of the game's choosing (at most 1024 UTF-8 bytes, else NetError.InvalidArgument),
        /// in every event's Tag. It survives in the journal (Persist), where a NetRequest cannot.</summary>
        public string Tag { get; set; }

        /// <summary>Downloads: record the download in the journal (in NetDir.ApplicationSupport) so that
        /// NetDl.Restore in a later run continues it.</summary>
        public bool Persist { get; set; }

        internal bool HasExtendedOptions
        {
            get
            {
                return MaxRetries != 0 || RetryDelayMs != 0 || RetryMaxDelayMs != 0 || ExpectedSize != 0
                    || Sha256 != null || (Mirrors != null && Mirrors.Count > 0) || Proxy != null
                    || Compress || KeepPartial || IfChanged || Segments != 0
                    || Priority != 0 || MaxSpeed != 0 || Tag != null || Persist;
            }
        }
    }

    /// <summary>
    /// One event, copied out of netdl: it may be kept as long as wanted.
    /// </summary>
    public sealed class NetEvent
    {
        internal NetEvent() { }

        /// <summary>The request this event belongs to.</summary>
        public NetRequest Request { get; internal set; }
        public ulong Id { get { return Request.Id; } }
        public NetPhase Phase { get; internal set; }

        /// <summary>The request failed (only in Ended). An HTTP error status is not a failure: see Status.</summary>
        public bool IsError { get; internal set; }
        public NetError ErrorCode { get; internal set; }

        /// <summary>A message for humans; "" unless IsError.</summary>
        public string Error { get; internal set; }

        /// <summary>HTTP status of the final response; 0 when none arrived.</summary>
        public int Status { get; internal set; }
        public long BytesTransferred { get; internal set; }

        /// <summary>Content-Length of the final response; -1 when unknown.</summary>
        public long BytesEstimated { get; internal set; }

        /// <summary>The final URL after redirects (for mirrors: the one that delivered the last byte).</summary>
        public string Url { get; internal set; }

        /// <summary>Response headers in the order received (names and values read as Latin-1).</summary>
        public IReadOnlyList<KeyValuePair<string, string>> Headers { get; internal set; }

        /// <summary>Downloads: the full path of the target file; null for requests.</summary>
        public string Path { get; internal set; }

        /// <summary>Ended of a request: the response body; of a download with a non-2xx status: the start of the error body. Else null.</summary>
        public byte[] Body { get; internal set; }
        public NetResponseType ResponseType { get; internal set; }

        /// <summary>Downloads: the base directory given; null for requests.</summary>
        public NetDir? BaseDir { get; internal set; }

        /// <summary>Downloads: the filename given; null for requests.</summary>
        public string Filename { get; internal set; }

        /// <summary>Which attempt this is about: 1 for the first, n + 1 for the n-th retry or mirror.</summary>
        public uint Attempt { get; internal set; }
        public NetEventFlags Flags { get; internal set; }

        /// <summary>Body bytes that came from the network over all attempts (BytesTransferred also counts resumed data).</summary>
        public long BytesReceived { get; internal set; }

        /// <summary>NetOptions.Tag of the request; null when it has none.</summary>
        public string Tag { get; internal set; }

        /// <summary>Started by NetDl.Restore from the journal of an earlier process.</summary>
        public bool Restored { get { return (Flags & NetEventFlags.Restored) != 0; } }

        /// <summary>A 2xx response without error.</summary>
        public bool Ok { get { return !IsError && Status >= 200 && Status < 300; } }

        /// <summary>"NET_ERROR_TIMEOUT" and so on.</summary>
        public string ErrorName { get { return NetDl.ErrorName(ErrorCode); } }

        /// <summary>The body decoded as UTF-8; null without a body.</summary>
        public string BodyText { get { return Body == null ? null : Encoding.UTF8.GetString(Body); } }

        /// <summary>The first value of a response header (name case-insensitive), or null.</summary>
        public string Header(string name)
        {
            foreach (var h in Headers)
                if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))
                    return h.Value;
            return null;
        }

        /// <summary>Every value of a response header, in order.</summary>
        public List<string> HeaderValues(string name)
        {
            var values = new List<string>();
            foreach (var h in Headers)
                if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))
                    values.Add(h.Value);
            return values;
        }

        /// <summary>Throws NetException unless Ok.</summary>
        public NetEvent EnsureSuccess()
        {
            if (!Ok)
                throw new NetException(this);
            return this;
        }

        public override string ToString()
        {
            if (IsError)
                return string.Format("{0} {1} {2}: {3}", Id, Phase, ErrorName, Error);
            return string.Format("{0} {1} status {2}, {3}/{4} bytes, {5}", Id, Phase, Status, BytesTransferred,
                BytesEstimated, Url);
        }
    }

    /// <summary>Thrown by NetEvent.EnsureSuccess.</summary>
    public sealed class NetException : Exception
    {
        public NetEvent Event { get; private set; }

        public NetException(NetEvent ev)
            : base(ev.IsError ? ev.ErrorName + ": " + ev.Error : "HTTP status " + ev.Status + " from " + ev.Url)
        {
            Event = ev;
        }
    }

    /// <summary>
    /// A running request. Its events are raised by NetDl.Poll on the thread
    /// that calls it; subscribe right after starting it (nothing is raised
    /// before the next Poll). Dispose cancels it if still running. The
    /// request stays alive until it ends even if no reference is kept.
    /// </summary>
    public sealed class NetRequest : IDisposable
    {
        internal NetRequestState state = NetRequestState.Running; // under NetDl.gate
        internal TaskCompletionSource<NetEvent> task;
        internal IProgress<NetEvent> progress;
        internal CancellationTokenRegistration registration;
        internal CancellationToken token;

        internal NetRequest(ulong id, string url, string filename, string tag, bool restored)
        {
            Id = id;
            Url = url;
            Filename = filename;
            Tag = tag;
            Restored = restored;
        }

        public ulong Id { get; private set; }

        /// <summary>The URL as given.</summary>
        public string Url { get; private set; }

        /// <summary>Downloads: the filename as given; null for requests.</summary>
        public string Filename { get; private set; }

        /// <summary>NetOptions.Tag as given (restored: from the journal); null when none.</summary>
        public string Tag { get; private set; }

        /// <summary>Started by NetDl.Restore from the journal of an earlier run.</summary>
        public bool Restored { get; private set; }

        /// <summary>The last event raised (null before the first).</summary>
        public NetEvent LastEvent { get; private set; }

        /// <summary>The ended event, once dispatched.</summary>
        public NetEvent Result { get; private set; }

        public NetRequestState State
        {
            get
            {
                lock (NetDl.gate)
                    return state;
            }
        }

        /// <summary>Response headers are in (only with NetOptions.Progress).</summary>
        public event Action<NetEvent> Began;

        /// <summary>More bytes moved (only with NetOptions.Progress).</summary>
        public event Action<NetEvent> Progress;

        /// <summary>The request is over, successfully or not: exactly once unless cancelled.</summary>
        public event Action<NetEvent> Ended;

        /// <summary>
        /// Cancels the request: no event of it is raised from now on (from
        /// another thread than Poll's, a handler already running may finish).
        /// Returns true when netdl still had it live; false when it had ended
        /// or was cancelled already.
        /// </summary>
        public bool Cancel()
        {
            bool live;
            lock (NetDl.gate)
            {
                if (state != NetRequestState.Running)
                    return false;
                state = NetRequestState.Cancelled;
                NetDl.live.Remove(Id);
                live = Native.net_cancel(Id) != 0;
            }
            Finish(null);
            return live;
        }

        /// <summary>Cancels the request if it is still running.</summary>
        public void Dispose()
        {
            Cancel();
        }

        internal void Raise(NetEvent ev)
        {
            LastEvent = ev;
            if (ev.Phase == NetPhase.Ended)
                Result = ev;
            Action<NetEvent> handlers = ev.Phase == NetPhase.Began ? Began
                : ev.Phase == NetPhase.Progress ? Progress : Ended;
            if (progress != null && ev.Phase != NetPhase.Ended)
                progress.Report(ev);
            if (handlers == null)
                return;
            // Each handler on its own: one that throws does not stop the others.
            ExceptionDispatchInfo first = null;
            foreach (Action<NetEvent> h in handlers.GetInvocationList())
            {
                try
                {
                    h(ev);
                }
                catch (Exception e)
                {
                    if (first == null)
                        first = ExceptionDispatchInfo.Capture(e);
                }
            }
            if (first != null)
                first.Throw();
        }

        /// <summary>Completes the task: with the ended event, or as cancelled when null.</summary>
        internal void Finish(NetEvent ended)
        {
            CancellationTokenRegistration reg;
            lock (NetDl.gate)
            {
                reg = registration;
                registration = default(CancellationTokenRegistration);
            }
            reg.Dispose();
            if (task == null)
                return;
            if (ended != null)
                task.TrySetResult(ended);
            else
                task.TrySetCanceled(token);
        }
    }

    /// <summary>The entry points. See the top of this file.</summary>
    public static class NetDl
    {
        const int Batch = 64;

        // Guards everything below, and `state` of every NetRequest. Never
        // held while a handler runs.
        internal static readonly object gate = new object();
        internal static readonly Dictionary<ulong, NetRequest> live = new Dictionary<ulong, NetRequest>();
        static readonly Queue<NetEvent> pending = new Queue<NetEvent>(); // copied, not yet raised
        static readonly NetEventNative[] buffer = new NetEventNative[Batch];
        static IntPtr queue = IntPtr.Zero; // this binding's net_queue, made on first use

        static NetDl()
        {
            // Unity's editor reloads scripts in the same process, where the
            // native library stays loaded: drop this copy's queue (and its
            // requests) with the domain that made it.
            AppDomain.CurrentDomain.DomainUnload += (sender, e) => Close();
        }

        /// <summary>The library's version, e.g. "0.1.0".</summary>
        public static string Version
        {
            get { return Marshalling.Utf8At(Native.net_version()); }
        }

        /// <summary>"NET_ERROR_TIMEOUT" for NetError.Timeout; "NET_ERROR_UNKNOWN" for values the library does not know.</summary>
        public static string ErrorName(NetError code)
        {
            return Marshalling.Utf8At(Native.net_error_name((uint)code));
        }

        /// <summary>Starts downloading url into filename (relative) inside dir; its file is complete when Ended reports a 2xx status.</summary>
        public static NetRequest Download(string url, string filename, NetDir dir = NetDir.Documents,
            NetOptions options = null)
        {
            if (filename == null)
                throw new ArgumentNullException("filename");
            return Start(url, null, filename, dir, options, false, null);
        }

        /// <summary>Starts a request whose response body arrives in the Ended event's Body.</summary>
        public static NetRequest Request(string url, string method = null, NetOptions options = null)
        {
            return Start(url, method, null, NetDir.Documents, options, false, null);
        }

        /// <summary>
        /// Download as a task that completes with the ended event when Poll
        /// dispatches it (keep calling Poll). Errors are events too: check
        /// IsError / Ok, or call EnsureSuccess(). Cancelling the token cancels
        /// the download (nothing is left at the target) and the task.
        /// </summary>
        public static Task<NetEvent> DownloadAsync(string url, string filename, NetDir dir = NetDir.Documents,
            NetOptions options = null, IProgress<NetEvent> progress = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (filename == null)
                throw new ArgumentNullException("filename");
            return StartAsync(url, null, filename, dir, options, progress, cancellationToken);
        }

        /// <summary>Request as a task; see DownloadAsync.</summary>
        public static Task<NetEvent> RequestAsync(string url, string method = null, NetOptions options = null,
            IProgress<NetEvent> progress = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return StartAsync(url, method, null, NetDir.Documents, options, progress, cancellationToken);
        }

        /// <summary>
        /// Raises every pending event, oldest first, on this thread; never
        /// blocks. Call it once per frame. Returns how many events were raised.
        /// If handlers throw, the rest are still raised, then the first
        /// exception is rethrown. A handler may call Poll again.
        /// </summary>
        public static int Poll()
        {
            lock (gate)
                Take(null);
            return Dispatch();
        }

        /// <summary>
        /// (under gate) Copies every event netdl holds into pending. With
        /// `restored`, a download Restore started is recognised by its first
        /// event (a Began, or the Ended of one that could not start, with the
        /// Restored flag and an id not known here): it gets a NetRequest,
        /// added to `restored`. Without it, such an event is dropped (none
        /// comes outside Restore: netdl queues them before net_queue_restore
        /// returns).
        /// </summary>
        static void Take(List<NetRequest> restored)
        {
            if (queue == IntPtr.Zero)
                return;
            int n;
            do
            {
                n = (int)Native.net_queue_poll(queue, buffer, (UIntPtr)Batch);
                for (int i = 0; i < n; i++)
                {
                    NetRequest req;
                    // Copied now: the memory is netdl's until the next poll.
                    if (!live.TryGetValue(buffer[i].id, out req) && restored != null
                        && (buffer[i].flags & (uint)NetEventFlags.Restored) != 0
                        && buffer[i].phase != (uint)NetPhase.Progress)
                    {
                        req = new NetRequest(buffer[i].id, Marshalling.Utf8At(buffer[i].url),
                            Marshalling.Utf8At(buffer[i].filename), Marshalling.Utf8At(buffer[i].tag), true);
                        live.Add(req.Id, req);
                        restored.Add(req);
                    }
                    if (req != null)
                        pending.Enqueue(Copy(ref buffer[i], req));
                }
            } while (n == Batch);
        }

        static int Dispatch()
        {
            int raised = 0;
            ExceptionDispatchInfo first = null;
            for (;;)
            {
                NetEvent ev;
                lock (gate)
                {
                    if (pending.Count == 0)
                        break;
                    ev = pending.Dequeue();
                    if (ev.Request.state != NetRequestState.Running)
                        continue; // cancelled since it was copied
                    if (ev.Phase == NetPhase.Ended)
                    {
                        ev.Request.state = NetRequestState.Ended;
                        live.Remove(ev.Id);
                    }
                }
                raised++;
                try
                {
                    ev.Request.Raise(ev);
                }
                catch (Exception e)
                {
                    if (first == null)
                        first = ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    if (ev.Phase == NetPhase.Ended)
                        ev.Request.Finish(ev);
                }
            }
            if (first != null)
                first.Throw();
            return raised;
        }

        /// <summary>
        /// Destroys this binding's event queue: every running request is
        /// cancelled without events and its task cancelled. Call it when the
        /// game quits or the scene that owns the downloads unloads (Unity's
        /// OnApplicationQuit, Godot's _ExitTree); the next Download makes a
        /// new queue. Call it from the thread that polls.
        /// </summary>
        public static void Close()
        {
            var dropped = new List<NetRequest>();
            lock (gate)
            {
                if (queue != IntPtr.Zero)
                    Native.net_queue_destroy(queue);
                queue = IntPtr.Zero;
                foreach (var req in live.Values)
                {
                    req.state = NetRequestState.Cancelled;
                    dropped.Add(req);
                }
                live.Clear();
                pending.Clear();
            }
            foreach (var req in dropped)
                req.Finish(null);
        }

        /// <summary>Sets where dir lives (an absolute path, created on first use) for requests started from now on.</summary>
        public static void SetDirectory(NetDir dir, string path)
        {
            using (var a = new NativeArena())
                if (Native.net_set_directory((uint)dir, a.Utf8(path, "path")) == 0)
                    throw new ArgumentException("cannot set " + dir + " to '" + path + "' (it must be absolute)");
        }

        /// <summary>The folder dir currently resolves to.</summary>
        public static string GetDirectory(NetDir dir)
        {
            int n = (int)Native.net_get_directory((uint)dir, null, UIntPtr.Zero);
            var buf = new byte[n + 1];
            Native.net_get_directory((uint)dir, buf, (UIntPtr)buf.Length);
            return Encoding.UTF8.GetString(buf, 0, n);
        }

        /// <summary>The application name the default directories are made of (one path component).</summary>
        public static void SetAppName(string name)
        {
            using (var a = new NativeArena())
                if (Native.net_set_app_name(a.Utf8(name, "name")) == 0)
                    throw new ArgumentException("invalid application name '" + name + "'");
        }

        /// <summary>How many requests run at once and how many connections go to one host (both at least 1).</summary>
        public static void SetLimits(uint maxTransfers, uint maxPerHost)
        {
            if (Native.net_set_limits(maxTransfers, maxPerHost) == 0)
                throw new ArgumentException("limits must be at least 1");
        }

        /// <summary>
        /// Pauses every transfer at once, for a game going to the background (Unity's
        /// OnApplicationPause(true), Godot's NOTIFICATION_APPLICATION_PAUSED): no byte moves, partial
        /// data is kept, queued requests do not start; no event comes while suspended except the
        /// Ended of a request failing for local reasons. New requests wait. Idempotent; never blocks.
        /// </summary>
        public static void Suspend()
        {
            Native.net_suspend();
        }

        /// <summary>Ends Suspend: downloads continue where their data ends, interrupted requests
        /// start again. Idempotent; never blocks.</summary>
        public static void Resume()
        {
            Native.net_resume();
        }

        /// <summary>
        /// Starts again every download of the journal (NetOptions.Persist) an earlier run left
        /// unfinished, into this binding's queue (net_queue_restore), and returns how many. Call it
        /// after SetAppName / SetDirectory(NetDir.ApplicationSupport, ...), from the thread that
        /// polls. Before it returns, `restored` is called on this thread with each one's
        /// NetRequest (Restored, and the Tag that tells the game what it is): subscribe to its
        /// Began / Progress / Ended there; Poll raises them as for any request, the first being a
        /// Began (even without Progress; BytesTransferred is the data it continues) with
        /// NetEvent.Restored and Tag set. One that cannot start has only an Ended with IsError.
        /// If `restored` throws, it is still called for the others, then the first exception is
        /// rethrown.
        /// <code>
        /// NetDl.Restore(req => req.Ended += e => { if (e.Ok) PackReady(e.Tag, e.Path); });
        /// </code>
        /// </summary>
        public static int Restore(Action<NetRequest> restored)
        {
            if (restored == null)
                throw new ArgumentNullException("restored");
            var found = new List<NetRequest>();
            int n;
            lock (gate)
            {
                if (queue == IntPtr.Zero)
                    queue = Native.net_queue_create();
                if (queue == IntPtr.Zero)
                    return 0; // after net_shutdown (NULL would mean netdl's default queue)
                n = checked((int)(ulong)Native.net_queue_restore(queue));
                // Their first events are queued already: each gets its NetRequest now.
                if (n > 0)
                    Take(found);
            }
            ExceptionDispatchInfo first = null;
            foreach (NetRequest req in found)
            {
                try
                {
                    restored(req);
                }
                catch (Exception e)
                {
                    if (first == null)
                        first = ExceptionDispatchInfo.Capture(e);
                }
            }
            if (first != null)
                first.Throw();
            return n;
        }

        /// <summary>Changes a request's priority: a queued one moves to its new place, a running one
        /// changes its share of a bandwidth cap. True when the request is queued or running.</summary>
        public static bool SetPriority(ulong id, int priority)
        {
            return Native.net_set_priority(id, priority) != 0;
        }

        /// <summary>Caps the receive rate of all transfers together, bytes per second (0: no cap,
        /// the default); running transfers share it by priority.</summary>
        public static void SetMaxSpeed(ulong bytesPerSecond)
        {
            Native.net_set_max_speed(bytesPerSecond);
        }

        /// <summary>Running requests this binding tracks.</summary>
        internal static int LiveCount
        {
            get
            {
                lock (gate)
                    return live.Count;
            }
        }

        static Task<NetEvent> StartAsync(string url, string method, string filename, NetDir dir,
            NetOptions options, IProgress<NetEvent> progress, CancellationToken token)
        {
            if (token.IsCancellationRequested)
                return Task.FromCanceled<NetEvent>(token);
            // Continuations run outside Poll's loop (or on the caller's
            // SynchronizationContext, as Unity's and Godot's await does).
            var tcs = new TaskCompletionSource<NetEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
            NetRequest req = Start(url, method, filename, dir, options, progress != null, req0 =>
            {
                req0.task = tcs;
                req0.progress = progress;
                req0.token = token;
            });
            if (token.CanBeCanceled)
            {
                // Register outside the lock: a token cancelled meanwhile runs
                // the callback right here, and Cancel takes the lock.
                CancellationTokenRegistration reg = token.Register(() => req.Cancel());
                bool over;
                lock (gate)
                {
                    over = req.state != NetRequestState.Running;
                    if (!over)
                        req.registration = reg;
                }
                if (over)
                    reg.Dispose();
            }
            return tcs.Task;
        }

        static NetRequest Start(string url, string method, string filename, NetDir dir, NetOptions options,
            bool progress, Action<NetRequest> setUp)
        {
            if (url == null)
                throw new ArgumentNullException("url");
            if (method == null)
                method = options != null && options.Method != null ? options.Method : "GET";
            using (var a = new NativeArena())
            {
                IntPtr cUrl = a.Utf8(url, "url");
                IntPtr cMethod = a.Utf8(method, "method");
                IntPtr cFile = a.Utf8(filename, "filename");
                NetParamsNative p = Marshalling.Params(options, a);
                if (progress)
                    p.progress = 1; // for the task's IProgress
                // Registered under the lock Poll takes, so no event of the id
                // can be copied before the request is known.
                lock (gate)
                {
                    if (queue == IntPtr.Zero)
                        queue = Native.net_queue_create();
                    if (queue == IntPtr.Zero)
                        throw new InvalidOperationException("netdl was shut down (net_shutdown) in this process");
                    p.queue = queue;
                    ulong id = filename != null
                        ? Native.net_download(cUrl, cMethod, ref p, cFile, (uint)dir)
                        : Native.net_request(cUrl, cMethod, ref p);
                    if (id == 0)
                        throw new InvalidOperationException("netdl was shut down (net_shutdown) in this process");
                    var req = new NetRequest(id, url, filename, options != null ? options.Tag : null, false);
                    if (setUp != null)
                        setUp(req);
                    live.Add(id, req);
                    return req;
                }
            }
        }

        static NetEvent Copy(ref NetEventNative e, NetRequest req)
        {
            var headers = new KeyValuePair<string, string>[(int)e.header_count];
            int pairSize = 2 * IntPtr.Size;
            for (int i = 0; i < headers.Length; i++)
            {
                IntPtr h = Marshalling.Add(e.headers, i * pairSize);
                headers[i] = new KeyValuePair<string, string>(
                    Marshalling.Latin1At(Marshal.ReadIntPtr(h)), Marshalling.Latin1At(Marshal.ReadIntPtr(h, IntPtr.Size)));
            }
            byte[] body = null;
            if (e.body != IntPtr.Zero)
            {
                body = new byte[checked((int)(ulong)e.body_len)];
                Marshal.Copy(e.body, body, 0, body.Length);
            }
            string filename = Marshalling.Utf8At(e.filename);
            return new NetEvent
            {
                Request = req,
                Phase = (NetPhase)e.phase,
                IsError = e.is_error != 0,
                ErrorCode = (NetError)e.error_code,
                Error = Marshalling.Utf8At(e.error) ?? "",
                Status = e.status,
                BytesTransferred = e.bytes_transferred,
                BytesEstimated = e.bytes_estimated,
                Url = Marshalling.Utf8At(e.url) ?? "",
                Headers = headers,
                Path = Marshalling.Utf8At(e.path),
                Body = body,
                ResponseType = (NetResponseType)e.response_type,
                BaseDir = filename != null ? (NetDir?)(NetDir)e.base_dir : null,
                Filename = filename,
                Attempt = e.attempt,
                Flags = (NetEventFlags)e.flags,
                BytesReceived = e.bytes_received,
                Tag = Marshalling.Utf8At(e.tag),
            };
        }
    }

    // ---- The C side: blittable mirrors of include/netdl.h ------------------
    // Field names are the header's; the tests compare every offset and size
    // with what a C compiler makes of netdl.h. net_bool and C bool are byte,
    // size_t is UIntPtr, pointers are IntPtr.

    [StructLayout(LayoutKind.Sequential)]
    internal struct NetHeaderNative
    {
        public IntPtr name;
        public IntPtr value;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NetOptionsNative
    {
        public uint size;
        public uint max_retries;
        public uint retry_delay_ms;
        public uint retry_max_delay_ms;
        public ulong expected_size;
        public IntPtr sha256;
        public IntPtr mirrors;
        public UIntPtr mirror_count;
        public IntPtr proxy;
        public byte compress;
        public byte keep_partial;
        public byte if_changed;
        public byte reserved8;
        public uint segments;
        public int priority;
        public byte persist;
        public byte reserved24_0, reserved24_1, reserved24_2;
        public ulong max_speed;
        public IntPtr tag;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NetParamsNative
    {
        public IntPtr headers;
        public UIntPtr header_count;
        public IntPtr body;
        public UIntPtr body_len;
        public uint timeout;
        public byte progress;
        public IntPtr user_data;
        public uint body_type;
        public IntPtr body_file;
        public uint body_file_dir;
        public byte no_redirects;
        public uint max_redirects;
        public IntPtr ca_file;
        public ulong max_body;
        public IntPtr queue;
        public uint progress_of;
        public uint reserved32;
        public IntPtr options;
        public ulong reserved0, reserved1, reserved2, reserved3, reserved4;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NetEventNative
    {
        public ulong id;
        public IntPtr user_data;
        public uint phase;
        public byte is_error;
        public uint error_code;
        public IntPtr error;
        public int status;
        public long bytes_transferred;
        public long bytes_estimated;
        public IntPtr url;
        public IntPtr headers;
        public UIntPtr header_count;
        public IntPtr path;
        public IntPtr body;
        public UIntPtr body_len;
        public uint response_type;
        public uint base_dir;
        public IntPtr filename;
        public uint attempt;
        public uint flags;
        public long bytes_received;
        public IntPtr tag;
        public ulong reserved0, reserved1, reserved2, reserved3, reserved4;
    }

    internal static class Native
    {
#if UNITY_IOS && !UNITY_EDITOR
        const string Lib = "__Internal"; // linked statically into the player (libnetdl.a)
#else
        const string Lib = "netdl"; // libnetdl.so, netdl.dll, libnetdl.dylib
#endif

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong net_download(IntPtr url, IntPtr method, ref NetParamsNative p, IntPtr filename,
            uint baseDir);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong net_request(IntPtr url, IntPtr method, ref NetParamsNative p);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern byte net_cancel(ulong id);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr net_queue_create();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void net_queue_destroy(IntPtr q);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr net_queue_poll(IntPtr q, [In, Out] NetEventNative[] events, UIntPtr capacity);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern byte net_set_directory(uint dir, IntPtr path);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr net_get_directory(uint dir, [Out] byte[] buf, UIntPtr capacity);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern byte net_set_app_name(IntPtr name);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern byte net_set_limits(uint maxTransfers, uint maxPerHost);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void net_suspend();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void net_resume();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr net_queue_restore(IntPtr q);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern byte net_set_priority(ulong id, int priority);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void net_set_max_speed(ulong bytesPerSecond);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr net_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr net_error_name(uint code);
    }

    /// <summary>
    /// Native memory for one call's arguments, freed all at once by Dispose
    /// (netdl copies what it keeps before the call returns).
    /// </summary>
    internal sealed class NativeArena : IDisposable
    {
        static long liveBlocks; // every arena's blocks not yet freed (the tests check it returns to 0)
        readonly List<IntPtr> blocks = new List<IntPtr>();

        internal static long LiveBlocks
        {
            get { return Interlocked.Read(ref liveBlocks); }
        }

        internal IntPtr Alloc(int size)
        {
            blocks.Capacity = Math.Max(blocks.Capacity, blocks.Count + 1); // cannot throw after the allocation
            IntPtr p = Marshal.AllocHGlobal(Math.Max(size, 1));
            blocks.Add(p);
            Interlocked.Increment(ref liveBlocks);
            return p;
        }

        /// <summary>A NUL-terminated UTF-8 copy of s; IntPtr.Zero for null.</summary>
        internal IntPtr Utf8(string s, string what)
        {
            if (s == null)
                return IntPtr.Zero;
            if (s.IndexOf('\0') >= 0)
                throw new ArgumentException(what + " contains a NUL character", what);
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            IntPtr p = Alloc(bytes.Length + 1);
            Marshal.Copy(bytes, 0, p, bytes.Length);
            Marshal.WriteByte(p, bytes.Length, 0);
            return p;
        }

        internal IntPtr Bytes(byte[] bytes)
        {
            IntPtr p = Alloc(bytes.Length);
            Marshal.Copy(bytes, 0, p, bytes.Length);
            return p;
        }

        /// <summary>An array of C pointers.</summary>
        internal IntPtr Pointers(List<IntPtr> items)
        {
            IntPtr p = Alloc(items.Count * IntPtr.Size);
            for (int i = 0; i < items.Count; i++)
                Marshal.WriteIntPtr(p, i * IntPtr.Size, items[i]);
            return p;
        }

        internal IntPtr Struct<T>(T value) where T : struct
        {
            IntPtr p = Alloc(Marshal.SizeOf(typeof(T)));
            Marshal.StructureToPtr(value, p, false);
            return p;
        }

        public void Dispose()
        {
            foreach (IntPtr p in blocks)
            {
                Marshal.FreeHGlobal(p);
                Interlocked.Decrement(ref liveBlocks);
            }
            blocks.Clear();
        }
    }

    internal static class Marshalling
    {
        internal static IntPtr Add(IntPtr p, int offset)
        {
            return new IntPtr(p.ToInt64() + offset);
        }

        static int Strlen(IntPtr p)
        {
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0)
                n++;
            return n;
        }

        /// <summary>A C string read as UTF-8; null for NULL.</summary>
        internal static string Utf8At(IntPtr p)
        {
            if (p == IntPtr.Zero)
                return null;
            var bytes = new byte[Strlen(p)];
            Marshal.Copy(p, bytes, 0, bytes.Length);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>A C string read as Latin-1 (every byte kept, as HTTP header bytes are); null for NULL.</summary>
        internal static string Latin1At(IntPtr p)
        {
            if (p == IntPtr.Zero)
                return null;
            var chars = new char[Strlen(p)];
            for (int i = 0; i < chars.Length; i++)
                chars[i] = (char)Marshal.ReadByte(p, i);
            return new string(chars);
        }

        /// <summary>The one place net_params (and net_options) are filled, pointing into a.</summary>
        internal static NetParamsNative Params(NetOptions o, NativeArena a)
        {
            var p = new NetParamsNative();
            if (o == null)
                return p;
            if (o.Headers != null)
            {
                var pointers = new List<IntPtr>();
                foreach (var h in o.Headers)
                {
                    pointers.Add(a.Utf8(h.Key ?? "", "header name"));
                    pointers.Add(a.Utf8(h.Value ?? "", "header " + h.Key));
                }
                if (pointers.Count > 0)
                {
                    p.headers = a.Pointers(pointers); // net_header is two pointers
                    p.header_count = (UIntPtr)(pointers.Count / 2);
                }
            }
            if (o.Body != null && o.BodyFile != null)
                throw new ArgumentException("give Body or BodyFile, not both");
            if (o.Body != null && o.Body.Length > 0)
            {
                p.body = a.Bytes(o.Body);
                p.body_len = (UIntPtr)o.Body.Length;
            }
            p.body_file = a.Utf8(o.BodyFile, "BodyFile");
            p.body_file_dir = (uint)o.BodyFileDir;
            p.body_type = (uint)o.BodyType;
            p.timeout = o.TimeoutSeconds;
            p.progress = (byte)(o.Progress || o.UploadProgress ? 1 : 0);
            p.progress_of = o.UploadProgress ? 1u : 0u;
            p.no_redirects = (byte)(o.FollowRedirects ? 0 : 1);
            p.max_redirects = o.MaxRedirects;
            p.ca_file = a.Utf8(o.CaFile, "CaFile");
            p.max_body = o.MaxBody;
            if (o.HasExtendedOptions)
            {
                var n = new NetOptionsNative();
                n.size = (uint)Marshal.SizeOf(typeof(NetOptionsNative));
                n.max_retries = o.MaxRetries;
                n.retry_delay_ms = o.RetryDelayMs;
                n.retry_max_delay_ms = o.RetryMaxDelayMs;
                n.expected_size = o.ExpectedSize;
                n.sha256 = a.Utf8(o.Sha256, "Sha256");
                if (o.Mirrors != null && o.Mirrors.Count > 0)
                {
                    var mirrors = new List<IntPtr>();
                    foreach (string m in o.Mirrors)
                        mirrors.Add(a.Utf8(m ?? "", "mirror"));
                    n.mirrors = a.Pointers(mirrors);
                    n.mirror_count = (UIntPtr)mirrors.Count;
                }
                n.proxy = a.Utf8(o.Proxy, "Proxy");
                n.compress = (byte)(o.Compress ? 1 : 0);
                n.keep_partial = (byte)(o.KeepPartial ? 1 : 0);
                n.if_changed = (byte)(o.IfChanged ? 1 : 0);
                n.segments = o.Segments;
                n.priority = o.Priority;
                n.max_speed = o.MaxSpeed;
                n.tag = a.Utf8(o.Tag, "Tag");
                n.persist = (byte)(o.Persist ? 1 : 0);
                p.options = a.Struct(n);
            }
            return p;
        }
    }
}
