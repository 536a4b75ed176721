// The C# binding's tests: a small runner (no NUnit), built with NetDl.cs into
// one program by run_tests.sh, as a Unity or Godot project compiles the file.
//
//     mono tests.exe BASE_URL WORK_DIR LAYOUT_FILE PACED_URL
//
// BASE_URL is scripts/loopback_server.py's (serving WORK_DIR/files under
// /files/), LAYOUT_FILE what tests/layout.c printed, PACED_URL a second
// server of WORK_DIR/files paced to 4 MiB/s. Exits 1 if a test fails.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Netdl;

sealed class TestFailure : Exception
{
    public TestFailure(string message) : base(message) { }
}

/// <summary>An IProgress that records on the thread that reports (Progress&lt;T&gt; would post elsewhere).</summary>
sealed class Recorder : IProgress<NetEvent>
{
    public readonly List<NetEvent> Events = new List<NetEvent>();
    public readonly List<int> Threads = new List<int>();

    public void Report(NetEvent ev)
    {
        Events.Add(ev);
        Threads.Add(Thread.CurrentThread.ManagedThreadId);
    }
}

static class Tests
{
    static string baseUrl, work, docs, files, layoutFile, pacedUrl;
    static int mainThread;

    static int Main(string[] args)
    {
        if (args.Length == 5 && args[0] == "--persist-child")
            return PersistChild(args);
        baseUrl = args[0];
        work = args[1];
        layoutFile = args[2];
        pacedUrl = args[3];
        docs = Path.Combine(work, "docs");
        files = Path.Combine(work, "files");
        Directory.CreateDirectory(files);
        mainThread = Thread.CurrentThread.ManagedThreadId;
        NetDl.SetDirectory(NetDir.Documents, docs);
        NetDl.SetDirectory(NetDir.Caches, Path.Combine(work, "caches")); // netdl's records of kept data

        var tests = new List<KeyValuePair<string, Action>>
        {
            T("struct layout matches netdl.h", StructLayoutMatchesHeader),
            T("version, error names, directories", VersionAndNames),
            T("download byte-exact with began/progress/ended", DownloadByteExact),
            T("progress events while bytes flow", ProgressWhileBytesFlow),
            T("UTF-8 filename and path", Utf8FilenameAndPath),
            T("request into memory: method, headers, body", RequestIntoMemory),
            T("404 is a status, not an error", NotFoundIsAStatus),
            T("refused connection is a Connect error", RefusedConnection),
            T("bad arguments are error events or exceptions", BadArguments),
            T("Dispose cancels: no event afterwards", DisposeCancels),
            T("DownloadAsync completes", DownloadAsyncCompletes),
            T("DownloadAsync cancelled by its token", DownloadAsyncCancelled),
            T("RequestAsync: a 404 completes the task", RequestAsyncNotFound),
            T("handler exceptions: the rest still raised, then rethrown", HandlerExceptions),
            T("Close cancels everything; a new queue afterwards", CloseCancelsEverything),
            T("options: Sha256 and ExpectedSize", OptionsIntegrity),
            T("options: MaxRetries, RetryDelayMs, RetryMaxDelayMs", OptionsRetries),
            T("options: Mirrors", OptionsMirrors),
            T("options: Proxy and Compress", OptionsProxyAndCompress),
            T("options: download-only fields reach the library", OptionsDownloadOnly),
            T("options: a cut download resumes (Resumed, Attempt, BytesReceived)", OptionsResume),
            T("options: KeepPartial, then a new download resumes", OptionsKeepPartial),
            T("options: Segments = 2 fetches 8 MiB over two connections", OptionsSegments),
            T("options: Tag in every event; 1024 bytes pass, 1025 do not", OptionsTag),
            T("options: Priority and MaxSpeed reach the library", OptionsPriorityAndMaxSpeed),
            T("Restore with an empty journal starts nothing", RestoreEmptyJournal),
            T("SetPriority of queued and unknown ids; SetMaxSpeed(0)", SetPriorityAndMaxSpeed),
            T("Suspend: nothing ends while suspended; Resume: byte-exact by a Range", SuspendResume),
            T("Restore(callback): a killed run's download, raised by Poll, byte-exact", RestoreAfterKill),
            T("200 downloads at once", ManyDownloads),
            T("2,000 requests: no native memory kept, RSS flat", NoLeak),
        };
        int failed = 0;
        var total = Stopwatch.StartNew();
        foreach (var t in tests)
        {
            var sw = Stopwatch.StartNew();
            try
            {
                t.Value();
                Check(NativeArena.LiveBlocks == 0, "native argument memory still allocated: " + NativeArena.LiveBlocks);
                Console.WriteLine("ok   {0} ({1} ms)", t.Key, sw.ElapsedMilliseconds);
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine("FAIL {0}: {1}", t.Key, e is TestFailure ? e.Message : e.ToString());
            }
        }
        Console.WriteLine("{0} tests, {1} failed, {2:F1} s", tests.Count, failed, total.Elapsed.TotalSeconds);
        return failed == 0 ? 0 : 1;
    }

    static KeyValuePair<string, Action> T(string name, Action test)
    {
        return new KeyValuePair<string, Action>(name, test);
    }

    // ---- helpers ---------------------------------------------------------

    static void Check(bool ok, string what)
    {
        if (!ok)
            throw new TestFailure(what);
    }

    static void Equal<T>(T want, T got, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(want, got))
            throw new TestFailure(string.Format("{0}: want {1}, got {2}", what, want, got));
    }

    static void Bytes(byte[] want, byte[] got, string what)
    {
        Check(got != null, what + ": null");
        Equal(want.Length, got.Length, what + ": length");
        for (int i = 0; i < want.Length; i++)
            if (want[i] != got[i])
                throw new TestFailure(string.Format("{0}: byte {1} differs", what, i));
    }

    /// <summary>The game loop: polls (about one frame each 2 ms) until done() or the time runs out.</summary>
    static void RunUntil(Func<bool> done, double seconds = 10)
    {
        var sw = Stopwatch.StartNew();
        while (!done())
        {
            if (sw.Elapsed.TotalSeconds > seconds)
                throw new TestFailure("still waiting after " + seconds + " s");
            NetDl.Poll();
            if (!done())
                Thread.Sleep(2);
        }
    }

    static NetEvent Finish(NetRequest req, double seconds = 10)
    {
        RunUntil(() => req.State != NetRequestState.Running, seconds);
        Equal(NetRequestState.Ended, req.State, "state");
        return req.Result;
    }

    static byte[] Pattern(int n)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++)
            b[i] = (byte)(i % 251);
        return b;
    }

    static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>A file served by the loopback server at the returned URL.</summary>
    static string Serve(string name, byte[] content)
    {
        File.WriteAllBytes(Path.Combine(files, name), content);
        return baseUrl + "/files/" + name;
    }

    /// <summary>A URL nobody listens on.</summary>
    static string RefusedUrl()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return "http://127.0.0.1:" + port + "/nothing";
    }

    static string Hex(byte[] b)
    {
        return BitConverter.ToString(b).Replace("-", "").ToLowerInvariant();
    }

    static long RssKiB()
    {
        foreach (string line in File.ReadAllLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:"))
                return long.Parse(line.Split((char[])null, StringSplitOptions.RemoveEmptyEntries)[1]);
        throw new TestFailure("no VmRSS in /proc/self/status");
    }

    // ---- tests -----------------------------------------------------------

    static void StructLayoutMatchesHeader()
    {
        var mirrors = new Dictionary<string, Type>
        {
            { "net_header", typeof(NetHeaderNative) },
            { "net_options", typeof(NetOptionsNative) },
            { "net_params", typeof(NetParamsNative) },
            { "net_event", typeof(NetEventNative) },
        };
        var seen = new Dictionary<string, HashSet<string>>();
        var sized = new HashSet<string>();
        foreach (string line in File.ReadAllLines(layoutFile))
        {
            string[] w = line.Split(' ');
            Type t;
            Check(w.Length == 3 && mirrors.TryGetValue(w[0], out t), "unexpected line: " + line);
            t = mirrors[w[0]];
            long c = long.Parse(w[2]);
            if (w[1] == "sizeof")
            {
                Equal(c, (long)Marshal.SizeOf(t), "sizeof(" + w[0] + ")");
                sized.Add(w[0]);
                continue;
            }
            Check(t.GetField(w[1]) != null, w[0] + "." + w[1] + " is missing from " + t.Name);
            Equal(c, Marshal.OffsetOf(t, w[1]).ToInt64(), "offsetof(" + w[0] + ", " + w[1] + ")");
            if (!seen.ContainsKey(w[0]))
                seen[w[0]] = new HashSet<string>();
            seen[w[0]].Add(w[1]);
        }
        foreach (var m in mirrors)
        {
            Check(seen.ContainsKey(m.Key) && sized.Contains(m.Key), "no lines for " + m.Key);
            foreach (var f in m.Value.GetFields())
                Check(seen[m.Key].Contains(f.Name), m.Value.Name + "." + f.Name + " is not in " + m.Key);
        }
    }

    static void VersionAndNames()
    {
        Check(NetDl.Version.Split('.').Length == 3, "version " + NetDl.Version);
        Equal("NET_ERROR_INTEGRITY", NetDl.ErrorName(NetError.Integrity), "error name");
        Equal("NET_ERROR_CONNECT", NetDl.ErrorName(NetError.Connect), "error name");
        Equal("NET_ERROR_UNKNOWN", NetDl.ErrorName((NetError)999), "unknown error name");
        Equal(docs, NetDl.GetDirectory(NetDir.Documents), "Documents");
        try
        {
            NetDl.SetDirectory(NetDir.Caches, "relative/dir");
            throw new TestFailure("a relative directory was accepted");
        }
        catch (ArgumentException)
        {
        }
    }

    static void DownloadByteExact()
    {
        byte[] content = RandomBytes(1 << 20, 1);
        string url = Serve("rand.bin", content);
        var phases = new List<NetPhase>();
        var counts = new List<long>();
        var threads = new HashSet<int>();
        NetRequest req = NetDl.Download(url, "dl/rand.bin", NetDir.Documents, new NetOptions { Progress = true });
        Action<NetEvent> record = e =>
        {
            phases.Add(e.Phase);
            counts.Add(e.BytesTransferred);
            threads.Add(Thread.CurrentThread.ManagedThreadId);
            Check(ReferenceEquals(e.Request, req) && e.Id == req.Id, "event of another request");
        };
        req.Began += record;
        req.Progress += record;
        req.Ended += record;
        NetEvent end = Finish(req);
        Equal(NetPhase.Began, phases[0], "first phase");
        Equal(NetPhase.Ended, phases[phases.Count - 1], "last phase");
        Check(phases.Skip(1).Take(phases.Count - 2).All(p => p == NetPhase.Progress),
            "began, progress..., ended: " + string.Join(" ", phases));
        Check(counts.SequenceEqual(counts.OrderBy(c => c)), "bytes never decrease");
        Check(threads.SetEquals(new[] { mainThread }), "raised on the polling thread only");
        Check(end.Ok && !end.IsError && end.ErrorCode == NetError.None && end.Error == "", "ok: " + end);
        Equal(200, end.Status, "status");
        Equal((long)content.Length, end.BytesTransferred, "bytes transferred");
        Equal((long)content.Length, end.BytesEstimated, "bytes estimated");
        Equal((long)content.Length, end.BytesReceived, "bytes received");
        Equal(1u, end.Attempt, "attempt");
        Equal(NetEventFlags.None, end.Flags, "flags");
        Equal(url, end.Url, "url");
        Equal(Path.Combine(docs, "dl/rand.bin"), end.Path, "path");
        Equal("dl/rand.bin", end.Filename, "filename");
        Equal((NetDir?)NetDir.Documents, end.BaseDir, "base dir");
        Equal(NetResponseType.Binary, end.ResponseType, "response type");
        Check(end.Body == null, "a download has no body");
        Equal(content.Length.ToString(), end.Header("content-length"), "Content-Length header");
        Equal(1, end.HeaderValues("CONTENT-LENGTH").Count, "Content-Length values");
        Check(end.Headers.Any(h => h.Key == "Content-Type" && h.Value == "application/octet-stream"), "headers");
        Bytes(content, File.ReadAllBytes(end.Path), "downloaded file");
        Check(ReferenceEquals(end, req.LastEvent), "LastEvent");
        Check(!req.Cancel(), "Cancel after the end");
        Equal(0, NetDl.LiveCount, "live requests");
    }

    static void ProgressWhileBytesFlow()
    {
        // 96 KiB in 1 KiB chunks every 15 ms: about 1.5 s of flowing bytes,
        // and netdl sends a progress event at least every 500 ms.
        NetRequest req = NetDl.Download(baseUrl + "/slow/98304?ms=15", "dl/slow.bin", NetDir.Documents,
            new NetOptions { Progress = true });
        var progress = new List<long>();
        req.Progress += e => progress.Add(e.BytesTransferred);
        NetEvent end = Finish(req);
        Check(progress.Count >= 1, "no progress event");
        Check(progress.All(n => n > 0 && n <= 98304), "progress counts: " + string.Join(",", progress));
        Bytes(Pattern(98304), File.ReadAllBytes(end.Path), "slow file");
    }

    static void Utf8FilenameAndPath()
    {
        string name = "ünï/çødé 日本.bin";
        NetEvent end = Finish(NetDl.Download(baseUrl + "/bytes/300", name));
        Check(end.Ok, end.ToString());
        Equal(name, end.Filename, "filename");
        Equal(Path.Combine(docs, name), end.Path, "path");
        Bytes(Pattern(300), File.ReadAllBytes(Path.Combine(docs, name)), "file");
    }

    static void RequestIntoMemory()
    {
        var body = new byte[] { 0, 1, 2, (byte)'r', (byte)'a', (byte)'w' };
        var headers = new List<KeyValuePair<string, string>>
        {
            new KeyValuePair<string, string>("X-Cs", "yes"),
            new KeyValuePair<string, string>("X-Utf8", "é"),
        };
        NetRequest req = NetDl.Request(baseUrl + "/echo?x=1", "put",
            new NetOptions { Headers = headers, Body = body, BodyType = NetBodyType.Binary });
        NetEvent end = Finish(req);
        Check(end.Ok, end.ToString());
        Equal(NetResponseType.Text, end.ResponseType, "response type");
        Check(end.Path == null && end.Filename == null && end.BaseDir == null, "no file for a request");
        Equal("application/json", end.Header("Content-Type"), "Content-Type");
        Equal((long)end.Body.Length, end.BytesTransferred, "bytes transferred");
        string doc = end.BodyText;
        foreach (string want in new[]
        {
            "\"method\": \"PUT\"", "\"query\": \"x=1\"", "\"X-Cs\": \"yes\"",
            "\"Content-Type\": \"application/octet-stream\"",
            // The echo's JSON spells body and header bytes as Latin-1 code points.
            "\"X-Utf8\": \"\\u00c3\\u00a9\"", "\"body\": \"\\u0000\\u0001\\u0002raw\"",
        })
            Check(doc.Contains(want), "echo lacks " + want + ": " + doc);

        NetEvent text = Finish(NetDl.Request(baseUrl + "/text/1000"));
        Equal(new string(Enumerable.Range(0, 1000).Select(i => (char)('a' + i % 26)).ToArray()), text.BodyText, "text");
        Equal(baseUrl + "/text/1000", text.Url, "url");
    }

    static void NotFoundIsAStatus()
    {
        NetEvent end = Finish(NetDl.Download(baseUrl + "/status/404", "dl/missing.bin"));
        Check(!end.IsError && end.ErrorCode == NetError.None, "a 404 is not an error: " + end);
        Equal(404, end.Status, "status");
        Check(!end.Ok, "not ok");
        Equal("status 404", end.BodyText, "error body");
        Check(!File.Exists(Path.Combine(docs, "dl/missing.bin")), "no file for a 404");
        try
        {
            end.EnsureSuccess();
            throw new TestFailure("EnsureSuccess passed a 404");
        }
        catch (NetException e)
        {
            Check(ReferenceEquals(e.Event, end), "exception's event");
        }
    }

    static void RefusedConnection()
    {
        NetEvent end = Finish(NetDl.Request(RefusedUrl()));
        Check(end.IsError, "refused is an error");
        Equal(NetError.Connect, end.ErrorCode, "error code");
        Equal("NET_ERROR_CONNECT", end.ErrorName, "error name");
        Check(end.Error.Length > 0, "a message");
        Equal(0, end.Status, "status");
        Equal(1u, end.Attempt, "attempt");
    }

    static void BadArguments()
    {
        var cases = new Dictionary<NetRequest, NetError>
        {
            { NetDl.Download("ftp://127.0.0.1/x", "x.bin"), NetError.UnsupportedScheme },
            { NetDl.Download("not a url", "x.bin"), NetError.InvalidArgument },
            { NetDl.Download(baseUrl + "/bytes/1", "../escape.bin"), NetError.InvalidArgument },
            { NetDl.Download(baseUrl + "/bytes/1", "x.bin", NetDir.Resource), NetError.InvalidArgument },
            { NetDl.Request(baseUrl + "/bytes/1", "BAD METHOD"), NetError.InvalidArgument },
            {
                NetDl.Request(baseUrl + "/bytes/1", null, new NetOptions
                {
                    Headers = new Dictionary<string, string> { { "X-A", "a\r\nB: c" } },
                }),
                NetError.InvalidArgument
            },
        };
        RunUntil(() => cases.Keys.All(r => r.State == NetRequestState.Ended));
        foreach (var c in cases)
        {
            Check(c.Key.Result.IsError, "error: " + c.Key.Result);
            Equal(c.Value, c.Key.Result.ErrorCode, c.Key.Url + " " + c.Key.Filename);
        }
        // What C cannot carry is refused before the call, with nothing left allocated.
        foreach (Action bad in new Action[]
        {
            () => NetDl.Request(baseUrl + "/bytes/1\0x"),
            () => NetDl.Download(baseUrl + "/bytes/1", "a\0b"),
            () => NetDl.Request(baseUrl + "/bytes/1", null, new NetOptions
            {
                Headers = new Dictionary<string, string> { { "X-A", "a\0" } },
            }),
            () => NetDl.Request(baseUrl + "/bytes/1", null, new NetOptions { Body = new byte[1], BodyFile = "f" }),
        })
        {
            try
            {
                bad();
                throw new TestFailure("accepted");
            }
            catch (ArgumentException)
            {
            }
            Equal(0L, NativeArena.LiveBlocks, "native blocks after a refused call");
        }
        Equal(0, NetDl.LiveCount, "live requests");
    }

    static void DisposeCancels()
    {
        NetRequest req = NetDl.Download(baseUrl + "/slow/200000?ms=20", "dl/cancelled.bin", NetDir.Documents,
            new NetOptions { Progress = true });
        int events = 0;
        req.Began += e => events++;
        req.Progress += e => events++;
        req.Ended += e => events++;
        RunUntil(() => events > 0);
        int before = events;
        using (req)
        {
        } // Dispose
        Equal(NetRequestState.Cancelled, req.State, "state");
        Check(!req.Cancel(), "a second cancel");
        Equal((byte)0, Native.net_cancel(req.Id), "netdl's own cancel after Dispose (it was cancelled there)");
        // Another request through the same queue ends, and nothing more of the first came.
        NetEvent other = Finish(NetDl.Request(baseUrl + "/bytes/5"));
        Check(other.Ok, other.ToString());
        for (int i = 0; i < 20; i++)
        {
            NetDl.Poll();
            Thread.Sleep(2);
        }
        Equal(before, events, "events after Dispose");
        Check(req.Result == null, "no result");
        Check(!File.Exists(Path.Combine(docs, "dl/cancelled.bin")), "no file");

        NetRequest second = NetDl.Download(baseUrl + "/slow/200000?ms=20", "dl/cancelled2.bin");
        Check(second.Cancel(), "Cancel of a running request returns true");
        Equal(0, NetDl.LiveCount, "live requests");
    }

    static void DownloadAsyncCompletes()
    {
        byte[] content = RandomBytes(300000, 2);
        string url = Serve("async.bin", content);
        var progress = new Recorder();
        Task<NetEvent> task = NetDl.DownloadAsync(url, "async/done.bin", NetDir.Documents, null, progress);
        RunUntil(() => task.IsCompleted);
        Equal(TaskStatus.RanToCompletion, task.Status, "task status");
        NetEvent end = task.Result;
        Check(end.Ok, end.ToString());
        Equal(NetPhase.Ended, end.Phase, "phase");
        Bytes(content, File.ReadAllBytes(end.Path), "file");
        Check(progress.Events.Count >= 1 && progress.Events[0].Phase == NetPhase.Began, "IProgress got began first");
        Check(progress.Events.All(e => e.Phase != NetPhase.Ended), "IProgress never gets ended");
        Check(progress.Threads.All(t => t == mainThread), "IProgress on the polling thread");
        Check(end.Request.Result == end, "the request's result");
    }

    static void DownloadAsyncCancelled()
    {
        string dir = Path.Combine(docs, "async-cancel");
        var cts = new CancellationTokenSource();
        var progress = new Recorder();
        Task<NetEvent> task = NetDl.DownloadAsync(baseUrl + "/slow/300000?ms=20", "async-cancel/big.bin",
            NetDir.Documents, null, progress, cts.Token);
        RunUntil(() => progress.Events.Count > 0); // bytes are flowing
        NetRequest req = progress.Events[0].Request;
        cts.Cancel();
        Check(task.IsCanceled, "task cancelled at once: " + task.Status);
        Equal(NetRequestState.Cancelled, req.State, "request state");
        Equal((byte)0, Native.net_cancel(req.Id), "netdl's own cancel after the token's (it was cancelled there)");
        try
        {
            task.Wait();
            throw new TestFailure("Wait returned");
        }
        catch (AggregateException e)
        {
            Check(e.InnerException is TaskCanceledException, "TaskCanceledException: " + e.InnerException);
            Equal(cts.Token, ((TaskCanceledException)e.InnerException).CancellationToken, "the token");
        }
        // A download into the same folder after it: only that file is there.
        NetEvent after = Finish(NetDl.Download(baseUrl + "/bytes/10", "async-cancel/after.bin"));
        Check(after.Ok, after.ToString());
        Equal("after.bin", string.Join(",", Directory.GetFileSystemEntries(dir).Select(Path.GetFileName)), "folder");

        // A token cancelled before the call starts nothing.
        Task<NetEvent> early = NetDl.DownloadAsync(baseUrl + "/bytes/10", "async-cancel/early.bin",
            NetDir.Documents, null, null, cts.Token);
        Check(early.IsCanceled, "cancelled before the start");
        Equal(0, NetDl.LiveCount, "live requests");
        cts.Dispose();
    }

    static void RequestAsyncNotFound()
    {
        using (var cts = new CancellationTokenSource())
        {
            Task<NetEvent> task = NetDl.RequestAsync(baseUrl + "/status/404", "GET", null, null, cts.Token);
            RunUntil(() => task.IsCompleted);
            Equal(TaskStatus.RanToCompletion, task.Status, "task status");
            Equal(404, task.Result.Status, "status");
            cts.Cancel(); // after the end: nothing happens
            Equal(TaskStatus.RanToCompletion, task.Status, "task status after a late cancel");
        }
    }

    static void HandlerExceptions()
    {
        NetRequest a = NetDl.Request(baseUrl + "/bytes/1");
        NetRequest b = NetDl.Request(baseUrl + "/bytes/2");
        int bEnded = 0, aSecond = 0;
        a.Ended += e => { throw new InvalidOperationException("from a"); };
        a.Ended += e => aSecond++;
        b.Ended += e => bEnded++;
        Exception thrown = null;
        RunUntil(() =>
        {
            try
            {
                NetDl.Poll();
            }
            catch (InvalidOperationException e)
            {
                thrown = e;
            }
            return a.State == NetRequestState.Ended && b.State == NetRequestState.Ended;
        });
        Check(thrown != null && thrown.Message == "from a", "rethrown: " + thrown);
        Equal(1, aSecond, "a's other handler");
        Equal(1, bEnded, "b's handler");
    }

    static void CloseCancelsEverything()
    {
        NetRequest slow = NetDl.Download(baseUrl + "/slow/200000?ms=20", "dl/closed.bin");
        Task<NetEvent> task = NetDl.DownloadAsync(baseUrl + "/slow/200000?ms=20", "dl/closed2.bin");
        NetDl.Close();
        Equal(NetRequestState.Cancelled, slow.State, "request");
        Check(task.IsCanceled, "task");
        Equal(0, NetDl.LiveCount, "live requests");
        NetEvent end = Finish(NetDl.Request(baseUrl + "/bytes/3"));
        Check(end.Ok, "a request after Close: " + end);
    }

    static void OptionsIntegrity()
    {
        byte[] content = RandomBytes(200000, 3);
        string url = Serve("checked.bin", content);
        string sha;
        using (var h = SHA256.Create())
            sha = Hex(h.ComputeHash(content));
        string wrongSha = new string('0', 64);
        var cases = new[]
        {
            new { Name = "sha-ok.bin", O = new NetOptions { Sha256 = sha }, Want = NetError.None },
            new { Name = "sha-bad.bin", O = new NetOptions { Sha256 = wrongSha }, Want = NetError.Integrity },
            new { Name = "size-ok.bin", O = new NetOptions { ExpectedSize = (ulong)content.Length }, Want = NetError.None },
            new { Name = "size-bad.bin", O = new NetOptions { ExpectedSize = 12345 }, Want = NetError.Integrity },
        };
        var reqs = cases.Select(c => NetDl.Download(url, "integrity/" + c.Name, NetDir.Documents, c.O)).ToList();
        RunUntil(() => reqs.All(r => r.State == NetRequestState.Ended));
        for (int i = 0; i < cases.Length; i++)
        {
            NetEvent end = reqs[i].Result;
            string path = Path.Combine(docs, "integrity", cases[i].Name);
            Equal(cases[i].Want, end.ErrorCode, cases[i].Name + ": " + end);
            if (cases[i].Want == NetError.None)
                Bytes(content, File.ReadAllBytes(path), cases[i].Name);
            else
                Check(end.IsError && (int)end.ErrorCode == 13 && !File.Exists(path), cases[i].Name + ": no file");
        }
    }

    static void OptionsRetries()
    {
        var sw = Stopwatch.StartNew();
        NetEvent end = Finish(NetDl.Request(RefusedUrl(), null,
            new NetOptions { MaxRetries = 3, RetryDelayMs = 10 }));
        Check(end.IsError && end.ErrorCode == NetError.Connect, end.ToString());
        Equal(4u, end.Attempt, "attempt of the last try (MaxRetries + 1)");

        // A one-minute base capped at 10 ms: two retries take well under the 5 s allowed.
        end = Finish(NetDl.Request(RefusedUrl(), null,
            new NetOptions { MaxRetries = 2, RetryDelayMs = 60000, RetryMaxDelayMs = 10 }), 5);
        Equal(3u, end.Attempt, "attempt with a capped delay");
        Check(sw.Elapsed.TotalSeconds < 8, "retries took " + sw.Elapsed);
    }

    static void OptionsMirrors()
    {
        byte[] content = RandomBytes(50000, 4);
        string good = Serve("mirrored.bin", content);
        NetEvent end = Finish(NetDl.Download(baseUrl + "/status/404", "mirrors/m.bin", NetDir.Documents,
            new NetOptions { Mirrors = new List<string> { RefusedUrl(), good } }));
        Check(end.Ok, end.ToString());
        Equal(good, end.Url, "the URL that delivered");
        Equal(3u, end.Attempt, "attempt (URL, mirror 1, mirror 2)");
        Bytes(content, File.ReadAllBytes(end.Path), "mirrored file");
    }

    static void OptionsProxyAndCompress()
    {
        string refused = RefusedUrl();
        NetEvent viaProxy = Finish(NetDl.Request(baseUrl + "/bytes/10", null,
            new NetOptions { Proxy = refused.Substring(0, refused.LastIndexOf('/')) }));
        Check(viaProxy.IsError && viaProxy.ErrorCode == NetError.Connect, "through a dead proxy: " + viaProxy);
        NetEvent direct = Finish(NetDl.Request(baseUrl + "/bytes/10", null, new NetOptions { Proxy = "" }));
        Check(direct.Ok, "no proxy: " + direct);

        NetEvent plain = Finish(NetDl.Download(baseUrl + "/echo", "echo/plain.json"));
        NetEvent packed = Finish(NetDl.Download(baseUrl + "/echo", "echo/packed.json", NetDir.Documents,
            new NetOptions { Compress = true }));
        string plainDoc = File.ReadAllText(plain.Path), packedDoc = File.ReadAllText(packed.Path);
        Check(plainDoc.Contains("\"Accept-Encoding\": \"identity\""), "a download asks for identity: " + plainDoc);
        Check(packedDoc.Contains("\"Accept-Encoding\": \"gzip, deflate\""), "Compress asks for gzip: " + packedDoc);
    }

    static void OptionsDownloadOnly()
    {
        // netdl rejects these for net_request, naming the field: each flag
        // lands in the net_options byte the library reads.
        var cases = new Dictionary<string, NetOptions>
        {
            { "compress", new NetOptions { Compress = true } },
            { "keep_partial", new NetOptions { KeepPartial = true } },
            { "if_changed", new NetOptions { IfChanged = true } },
            { "expected_size", new NetOptions { ExpectedSize = 1 } },
            { "sha256", new NetOptions { Sha256 = new string('a', 64) } },
            { "segments", new NetOptions { Segments = 2 } },
            { "persist", new NetOptions { Persist = true } },
        };
        var reqs = cases.ToDictionary(c => c.Key, c => NetDl.Request(baseUrl + "/bytes/1", null, c.Value));
        RunUntil(() => reqs.Values.All(r => r.State == NetRequestState.Ended));
        foreach (var r in reqs)
        {
            NetEvent end = r.Value.Result;
            Equal(NetError.InvalidArgument, end.ErrorCode, r.Key);
            Check(end.Error.Contains("net_options." + r.Key), r.Key + ": " + end.Error);
        }
    }

    static void OptionsResume()
    {
        byte[] content = RandomBytes(400000, 5);
        using (var server = new CutServer(content))
        {
            NetEvent end = Finish(NetDl.Download(server.Url, "resume/r.bin", NetDir.Documents,
                new NetOptions { MaxRetries = 2, RetryDelayMs = 10 }));
            Check(end.Ok, end.ToString());
            Equal(2u, end.Attempt, "attempt");
            Equal(NetEventFlags.Resumed, end.Flags, "flags");
            Equal((long)content.Length, end.BytesTransferred, "bytes transferred");
            Equal((long)content.Length, end.BytesReceived, "bytes received over both attempts");
            Equal(200, end.Status, "status (netdl reports a resumed file's whole status)");
            Bytes(content, File.ReadAllBytes(end.Path), "resumed file");
            Equal("<none>,bytes=" + content.Length / 2 + "-", string.Join(",", server.Ranges), "ranges asked");
        }
    }

    static void OptionsKeepPartial()
    {
        byte[] content = RandomBytes(400000, 7);
        int half = content.Length / 2;
        using (var server = new CutServer(content, true))
        {
            NetRequest first = NetDl.Download(server.Url, "partial/p.bin", NetDir.Documents,
                new NetOptions { Progress = true, KeepPartial = true });
            long got = 0;
            first.Progress += e => got = e.BytesTransferred;
            RunUntil(() => got >= half); // the server now waits
            Check(first.Cancel(), "cancel");
            // netdl handles the cancel on its thread: a request after it ends after it.
            Check(Finish(NetDl.Request(baseUrl + "/bytes/1")).Ok, "a request after the cancel");
            NetEvent end = Finish(NetDl.Download(server.Url, "partial/p.bin"));
            Check(end.Ok, end.ToString());
            Equal(NetEventFlags.Resumed, end.Flags, "flags");
            Equal(1u, end.Attempt, "attempt");
            Equal((long)content.Length, end.BytesTransferred, "bytes transferred (the kept half counts)");
            Equal((long)(content.Length - half), end.BytesReceived, "bytes received (this download's only)");
            Bytes(content, File.ReadAllBytes(end.Path), "resumed file");
            Equal("<none>,bytes=" + half + "-", string.Join(",", server.Ranges), "ranges asked");
            Equal("p.bin", string.Join(",", Directory.GetFileSystemEntries(Path.Combine(docs, "partial"))
                .Select(Path.GetFileName)), "folder");
        }
    }

    static void OptionsSegments()
    {
        // The loopback server answers ranges of its /files/ (with an ETag):
        // the first connection keeps the first 4 MiB, a helper asks for the rest.
        // Written and hashed in pieces: no 8 MiB arrays to sway NoLeak's RSS.
        string served = Path.Combine(files, "segmented.bin");
        using (var f = File.Create(served))
            for (int i = 0; i < 8; i++)
                f.Write(RandomBytes(1 << 20, 80 + i), 0, 1 << 20);
        NetEvent end = Finish(NetDl.Download(baseUrl + "/files/segmented.bin", "segments/s.bin", NetDir.Documents,
            new NetOptions { Segments = 2 }), 30);
        Check(end.Ok && end.Status == 200, end.ToString());
        using (var h = SHA256.Create())
        using (FileStream want = File.OpenRead(served), got = File.OpenRead(end.Path))
            Equal(Hex(h.ComputeHash(want)), Hex(h.ComputeHash(got)), "sha256 of the file");
        NetEvent ranges = Finish(NetDl.Request(baseUrl + "/ranges/segmented.bin"));
        Equal("bytes=4194304-8388607\n", ranges.BodyText, "Range headers the server saw");

        NetEvent tooMany = Finish(NetDl.Download(baseUrl + "/files/segmented.bin", "segments/17.bin", NetDir.Documents, new NetOptions { Segments = 17 }));
        Equal(NetError.InvalidArgument, tooMany.ErrorCode, "Segments = 17: " + tooMany);
        Check(!File.Exists(Path.Combine(docs, "segments", "17.bin")), "Segments = 17: no file");
    }

    static void OptionsTag()
    {
        const string tag = "level-3/pack \u00e9";
        NetRequest req = NetDl.Download(baseUrl + "/bytes/300000", "tag/t.bin", NetDir.Documents,
            new NetOptions { Progress = true, Tag = tag });
        var events = new List<NetEvent>();
        req.Began += events.Add;
        req.Progress += events.Add;
        req.Ended += events.Add;
        NetEvent end = Finish(req);
        Check(end.Ok && events.Count >= 2 && events[0].Phase == NetPhase.Began, end.ToString());
        foreach (NetEvent e in events)
        {
            Equal(tag, e.Tag, e.Phase + " tag");
            Check(!e.Restored, "not restored");
        }
        Bytes(Pattern(300000), File.ReadAllBytes(end.Path), "file");
        Equal("req", Finish(NetDl.Request(baseUrl + "/bytes/10", null, new NetOptions { Tag = "req" })).Tag,
            "a request's tag");
        Equal(null, Finish(NetDl.Request(baseUrl + "/bytes/10")).Tag, "no tag");

        end = Finish(NetDl.Download(baseUrl + "/bytes/10", "tag/1024.bin", NetDir.Documents,
            new NetOptions { Tag = new string('x', 1024) }));
        Check(end.Ok && end.Tag == new string('x', 1024), "a 1024-byte tag: " + end);
        end = Finish(NetDl.Download(baseUrl + "/bytes/10", "tag/1025.bin", NetDir.Documents,
            new NetOptions { Tag = new string('x', 1025) }));
        Equal(NetError.InvalidArgument, end.ErrorCode, "a 1025-byte tag: " + end);
        Check(end.Error.Contains("tag"), end.Error);
        Check(!File.Exists(Path.Combine(docs, "tag", "1025.bin")), "no file");
        try
        {
            NetDl.Request(baseUrl + "/bytes/1", null, new NetOptions { Tag = "a\0b" });
            throw new TestFailure("a tag with NUL was accepted");
        }
        catch (ArgumentException)
        {
        }
    }

    static void OptionsPriorityAndMaxSpeed()
    {
        NetEvent end = Finish(NetDl.Download(baseUrl + "/bytes/1000", "prio/p.bin", NetDir.Documents,
            new NetOptions { Priority = -3, MaxSpeed = 1 << 20 }));
        Check(end.Ok, end.ToString());
        Bytes(Pattern(1000), File.ReadAllBytes(end.Path), "file");
        Check(new NetOptions { Priority = 1 }.HasExtendedOptions && new NetOptions { MaxSpeed = 1 }.HasExtendedOptions
            && new NetOptions { Tag = "" }.HasExtendedOptions && new NetOptions { Persist = true }.HasExtendedOptions
            && !new NetOptions().HasExtendedOptions, "each one makes a net_options");
    }

    static void RestoreEmptyJournal()
    {
        NetDl.SetDirectory(NetDir.ApplicationSupport, Path.Combine(work, "support"));
        int called = 0;
        Equal(0, NetDl.Restore(req => called++), "first Restore");
        Equal(0, NetDl.Restore(req => called++), "second Restore");
        Equal(0, called, "callbacks");
        try
        {
            NetDl.Restore(null);
            throw new TestFailure("Restore(null) did not throw");
        }
        catch (ArgumentNullException)
        {
        }
    }

    static void SetPriorityAndMaxSpeed()
    {
        NetDl.SetLimits(1, 1);
        NetRequest slow, queued;
        try
        {
            slow = NetDl.Request(baseUrl + "/slow/20480?ms=20"); // holds the one slot for about 0.4 s
            queued = NetDl.Request(baseUrl + "/bytes/10", null, new NetOptions { Priority = 1 });
            Check(NetDl.SetPriority(queued.Id, 5), "SetPriority of a queued request");
            Check(!NetDl.SetPriority(1UL << 62, 1), "SetPriority of an unknown id");
            Check(!NetDl.SetPriority(0, 1), "SetPriority of 0");
        }
        finally
        {
            NetDl.SetLimits(64, 64);
        }
        Bytes(Pattern(20480), Finish(slow).Body, "slow body");
        Bytes(Pattern(10), Finish(queued).Body, "queued body");
        Check(!NetDl.SetPriority(queued.Id, 1), "SetPriority of an ended request");

        NetDl.SetMaxSpeed(0);
        Bytes(Pattern(1000), Finish(NetDl.Request(baseUrl + "/bytes/1000")).Body, "after SetMaxSpeed(0)");
    }

    static void SuspendResume()
    {
        // 3 MiB at 4 MiB/s. Written and hashed in pieces (NoLeak's RSS).
        string served = Path.Combine(files, "suspend.bin");
        using (var f = File.Create(served))
            for (int i = 0; i < 3; i++)
                f.Write(RandomBytes(1 << 20, 140 + i), 0, 1 << 20);
        NetRequest req = NetDl.Download(pacedUrl + "/files/suspend.bin", "suspend/s.bin", NetDir.Documents,
            new NetOptions { Progress = true, Tag = "s" });
        long got = 0;
        req.Progress += e => got = e.BytesTransferred;
        RunUntil(() => got > 0); // bytes flow
        NetDl.Suspend();
        try
        {
            Equal(NetRequestState.Running, req.State, "state when suspended");
            // Absence of the ended event while suspended, over a short bounded time.
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < 300)
            {
                NetDl.Poll();
                Thread.Sleep(2);
            }
            Equal(NetRequestState.Running, req.State, "state after 0.3 s suspended");
        }
        finally
        {
            NetDl.Resume();
        }
        NetEvent end = Finish(req, 30);
        Check(end.Ok && end.Tag == "s" && (end.Flags & NetEventFlags.Resumed) != 0, end.ToString());
        using (var h = SHA256.Create())
        using (FileStream want = File.OpenRead(served), file = File.OpenRead(end.Path))
            Equal(Hex(h.ComputeHash(want)), Hex(h.ComputeHash(file)), "sha256 of the file");
        // It continued with one Range where its data ended.
        string asked = Finish(NetDl.Request(pacedUrl + "/ranges/suspend.bin")).BodyText;
        long from;
        Check(asked.StartsWith("bytes=") && asked.EndsWith("-\n")
            && long.TryParse(asked.Substring(6, asked.Length - 8), out from) && from > 0 && from < 3 << 20,
            "Range headers the server saw: " + asked);
    }

    /// <summary>
    /// The first run of RestoreAfterKill, as `tests.exe --persist-child SUPPORT DOCUMENTS URL
    /// NAME`: starts a persisted, tagged download of URL into DOCUMENTS/NAME, suspends once 1.5
    /// MiB arrived (so it cannot finish before it is killed), prints how many bytes it had and
    /// waits to be killed. Exits 1 if the download ended first, or after 10 s without the bytes.
    /// </summary>
    static int PersistChild(string[] args)
    {
        NetDl.SetDirectory(NetDir.ApplicationSupport, args[1]);
        NetDl.SetDirectory(NetDir.Documents, args[2]);
        NetRequest req = NetDl.Download(args[3], args[4], NetDir.Documents,
            new NetOptions { Progress = true, Persist = true, Tag = "pack-7" });
        long got = 0;
        req.Progress += e =>
        {
            if (got == 0 && e.BytesTransferred >= 1536 * 1024)
                got = e.BytesTransferred;
        };
        try
        {
            RunUntil(() => got > 0 || req.State != NetRequestState.Running);
        }
        catch (TestFailure)
        {
            return 1;
        }
        if (req.State != NetRequestState.Running)
            return 1;
        NetDl.Suspend();
        Console.WriteLine(got);
        Console.Out.Flush();
        Thread.Sleep(Timeout.Infinite);
        return 1;
    }

    static void RestoreAfterKill()
    {
        // A second run of this program starts a persisted, tagged 4 MiB download from the paced
        // server and is killed (SIGKILL) once 1.5 MiB arrived; this one restores it.
        byte[] data = RandomBytes(4 << 20, 7);
        File.WriteAllBytes(Path.Combine(files, "restored.bin"), data);
        string support = Path.Combine(work, "restore", "support"), rdocs = Path.Combine(work, "restore", "docs");
        var start = new ProcessStartInfo
        {
            FileName = Process.GetCurrentProcess().MainModule.FileName, // mono
            Arguments = string.Format("--debug \"{0}\" --persist-child \"{1}\" \"{2}\" \"{3}\" restored.bin",
                System.Reflection.Assembly.GetEntryAssembly().Location, support, rdocs, pacedUrl + "/files/restored.bin"),
            UseShellExecute = false,
            RedirectStandardOutput = true,
        };
        using (Process child = Process.Start(start))
        {
            string line;
            try
            {
                line = child.StandardOutput.ReadLine();
            }
            finally
            {
                child.Kill(); // SIGKILL: no shutdown, the journal is all that is left
                child.WaitForExit();
            }
            long got;
            Check(long.TryParse(line, out got) && got >= 1536 * 1024 && got < data.Length,
                "the first run got part of the file: " + line);
            Equal(128 + 9, child.ExitCode, "the first run's exit (killed by SIGKILL)");
        }

        NetDl.SetDirectory(NetDir.ApplicationSupport, support);
        NetDl.SetDirectory(NetDir.Documents, rdocs);
        try
        {
            var reqs = new List<NetRequest>();
            var events = new List<NetEvent>();
            Equal(1, NetDl.Restore(req =>
            {
                reqs.Add(req);
                req.Began += events.Add;
                req.Progress += events.Add;
                req.Ended += events.Add;
            }), "Restore");
            Equal(1, reqs.Count, "callbacks");
            NetRequest r = reqs[0];
            Check(r.Restored && r.Tag == "pack-7" && r.Filename == "restored.bin"
                && r.Url == pacedUrl + "/files/restored.bin", "the restored NetRequest");
            NetEvent end = Finish(r);
            NetEvent began = events[0];
            Check(began.Phase == NetPhase.Began && began.Restored && began.Status == 0, "first event: " + began);
            Check(events.All(e => e.Request == r && e.Restored && e.Tag == "pack-7"),
                "every event has the request, Restored and the tag");
            Check(events.Count >= 2 && events.Last() == end && end.Ok, end.ToString());
            Bytes(data, File.ReadAllBytes(Path.Combine(rdocs, "restored.bin")), "restored file");
            Equal("restored.bin", string.Join(",", Directory.GetFileSystemEntries(rdocs).Select(Path.GetFileName)),
                "files left (no partial file)");
            // It continued the data the journal claimed (a Range from there), or started over
            // when it had claimed none yet.
            string asked = Finish(NetDl.Request(pacedUrl + "/ranges/restored.bin")).BodyText;
            if (began.BytesTransferred > 0)
                Check(asked == "bytes=" + began.BytesTransferred + "-\n" && (end.Flags & NetEventFlags.Resumed) != 0,
                    "Range headers the server saw: " + asked);
            else
                Equal("", asked, "Range headers the server saw");
            Equal(0, NetDl.Restore(req => { }), "Restore after it ended");
        }
        finally
        {
            NetDl.SetDirectory(NetDir.Documents, docs);
        }
    }

    static void ManyDownloads()
    {
        const int count = 200;
        var reqs = new List<NetRequest>();
        int ended = 0;
        for (int i = 0; i < count; i++)
        {
            NetRequest r = NetDl.Download(baseUrl + "/bytes/" + (1000 + i), "many/" + i + ".bin");
            r.Ended += e => ended++;
            reqs.Add(r);
        }
        Equal(count, NetDl.LiveCount, "live requests");
        RunUntil(() => ended == count, 20);
        for (int i = 0; i < count; i++)
        {
            NetEvent end = reqs[i].Result;
            Check(end.Ok, i + ": " + end);
            Bytes(Pattern(1000 + i), File.ReadAllBytes(end.Path), "file " + i);
        }
        Equal(0, NetDl.LiveCount, "live requests");
    }

    static void NoLeak()
    {
        var body = RandomBytes(4096, 6);
        var options = new NetOptions
        {
            Headers = new Dictionary<string, string> { { "X-One", "1" }, { "X-Two", "two" }, { "X-Three", "3" } },
            Body = body,
            Mirrors = new List<string> { baseUrl + "/echo?mirror" },
            Proxy = "",
            MaxRetries = 1,
        };
        int done = 0;
        Action<int> wave = n =>
        {
            int target = done + n;
            for (int i = 0; i < n; i++)
            {
                NetRequest r = NetDl.Request(baseUrl + "/echo", "POST", options);
                Equal(0L, NativeArena.LiveBlocks, "native blocks after a call");
                r.Ended += e =>
                {
                    Check(e.Ok && e.Body.Length > 4096, "echo: " + e);
                    done++;
                };
            }
            RunUntil(() => done == target, 20);
        };
        for (int i = 0; i < 5; i++)
            wave(100); // warm up: caches, connections, the GC's heap
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long start = RssKiB();
        for (int i = 0; i < 20; i++)
            wave(100);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long growth = RssKiB() - start;
        Console.WriteLine("     RSS {0} KiB after the warm-up, {1:+#;-#;0} KiB after 2,000 more requests", start, growth);
        // Each request passes 4 KiB of body and gets about 6 KiB back: a leak
        // of either would be 8 MiB or more.
        Check(growth < 4096, "RSS grew by " + growth + " KiB");
        Equal(0, NetDl.LiveCount, "live requests");
    }
}

/// <summary>
/// A one-resource HTTP server for resume: the first GET gets a 200 with a
/// strong ETag and half of the body, then the connection closes (or, with
/// `stall`, stays open until the client closes it); a GET with Range:
/// bytes=N- gets a 206 with the rest. One connection at a time.
/// </summary>
sealed class CutServer : IDisposable
{
    readonly TcpListener listener = new TcpListener(IPAddress.Loopback, 0);
    readonly byte[] content;
    readonly bool stall;
    readonly Thread thread;
    public readonly List<string> Ranges = new List<string>();

    public CutServer(byte[] content, bool stall = false)
    {
        this.content = content;
        this.stall = stall;
        listener.Start();
        Url = "http://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port + "/cut.bin";
        thread = new Thread(Serve) { IsBackground = true };
        thread.Start();
    }

    public string Url { get; private set; }

    void Serve()
    {
        try
        {
            for (;;)
                using (TcpClient c = listener.AcceptTcpClient())
                    Answer(c.GetStream());
        }
        catch (SocketException)
        {
        } // Dispose stopped the listener
        catch (ObjectDisposedException)
        {
        }
        catch (InvalidOperationException)
        {
        } // Dispose stopped it before AcceptTcpClient was called again ("Not listening")
    }

    void Answer(NetworkStream s)
    {
        try
        {
            Respond(s);
        }
        catch (IOException)
        {
        } // the client reset the connection
    }

    void Respond(NetworkStream s)
    {
        var head = new StringBuilder();
        while (!head.ToString().EndsWith("\r\n\r\n"))
        {
            int b = s.ReadByte();
            if (b < 0)
                return;
            head.Append((char)b);
        }
        string range = null;
        foreach (string line in head.ToString().Split(new[] { "\r\n" }, StringSplitOptions.None))
            if (line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase))
                range = line.Substring(6).Trim();
        lock (Ranges)
            Ranges.Add(range ?? "<none>");
        int from = 0, to = content.Length / 2;
        string status = "200 OK", extra = "";
        if (range != null && range.StartsWith("bytes=") && range.EndsWith("-"))
        {
            from = int.Parse(range.Substring(6, range.Length - 7));
            to = content.Length;
            status = "206 Partial Content";
            extra = string.Format("Content-Range: bytes {0}-{1}/{2}\r\n", from, content.Length - 1, content.Length);
        }
        string headers = string.Format(
            "HTTP/1.1 {0}\r\nContent-Type: application/octet-stream\r\nContent-Length: {1}\r\n{2}" +
            "ETag: \"v1\"\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
            status, range == null ? content.Length : content.Length - from, extra);
        byte[] h = Encoding.ASCII.GetBytes(headers);
        s.Write(h, 0, h.Length);
        s.Write(content, from, to - from); // the first answer stops halfway; closing cuts it
        if (stall && range == null)
            s.ReadByte(); // returns when the client closes the connection
    }

    public void Dispose()
    {
        listener.Stop();
        thread.Join();
    }
}
