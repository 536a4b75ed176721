/*
 * netdl in an SDL2 game: one bar per download (name, bytes, rate, ETA),
 * coloured when it is done, failed or cancelled, and the frame time drawn
 * at the top. net_poll() is called once per frame in the main loop.
 *
 *   sdl_demo [-o OUTDIR] [--start K] [--linger SECONDS] [--screenshot FILE.bmp]
 *            [--press "KEY KEY ..."] URL...
 *
 * Keys: Up/Down select a download, C cancels the selected one, N starts the
 * next URL not started yet (the first K start at once; default: all), Esc or
 * closing the window quits at once (running downloads are cancelled: no
 * partial file remains). The program also quits by itself LINGER seconds
 * (default 3) after every download ended.
 *
 * Files are saved as OUTDIR/<last path segment of the URL>. On stdout, one
 * line per download when it ends ("done: NAME BYTES", "failed: NAME: why",
 * "cancelled: NAME"). --screenshot reads back the last frame with
 * SDL_RenderReadPixels and saves it with SDL_SaveBMP, then prints one line
 * per bar ("bar NAME STATE X Y W H": the bar's inside, in pixels). --press
 * feeds key presses (SDL key names) through the event queue before the
 * first frame, as if typed: the test uses it.
 *
 * Exit status: 0 when no download failed (cancelled ones are not failures),
 * 1 when one failed (a network error or a non-2xx status), 2 on bad usage.
 * Uses only netdl.h and SDL2.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <SDL.h>

#include "font.h"
#include "netdl.h"

#define MAX_FILES 12
#define WIN_W 800
#define MARGIN 16
#define TEXT_SCALE 2
#define CHAR_W ((FONT_W + 1) * TEXT_SCALE)
#define HEADER_H 64
#define ROW_H 48
#define BAR_Y 20 /* bar top, from the row's top */
#define BAR_H 18
#define FOOTER_H 56
#define FRAME_MS 16 /* about 60 frames per second */

typedef enum { IDLE, RUNNING, DONE, FAILED, CANCELLED } state_t;
static const char *const state_names[] = {"idle", "running", "done", "failed", "cancelled"};

/* Bar colours; examples-c/sdl/shot.py checks the same values. */
static const SDL_Color COL_BG = {24, 26, 32, 255};
static const SDL_Color COL_TRACK = {48, 52, 62, 255};
static const SDL_Color COL_RUNNING = {70, 130, 230, 255};
static const SDL_Color COL_DONE = {60, 190, 90, 255};
static const SDL_Color COL_FAILED = {215, 60, 60, 255};
static const SDL_Color COL_CANCELLED = {225, 165, 40, 255};
static const SDL_Color COL_TEXT = {230, 232, 238, 255};
static const SDL_Color COL_DIM = {140, 146, 160, 255};
static const SDL_Color COL_BORDER = {90, 96, 110, 255};
static const SDL_Color COL_SELECTED = {255, 255, 255, 255};

typedef struct {
    const char *url;
    char name[64];
    net_id id;
    state_t state;
    long long done, total; /* total -1 while unknown */
    double started, ended; /* seconds since program start */
    char message[96];
} download_t;

typedef struct {
    download_t files[MAX_FILES];
    int count;   /* URLs given */
    int started; /* the first `started` of them have been started */
    int selected;
    SDL_Renderer *renderer;
    SDL_Texture *font;
} game_t;

static Uint64 perf_start;
static double now(void) {
    return (double)(SDL_GetPerformanceCounter() - perf_start) / (double)SDL_GetPerformanceFrequency();
}

/* "812 B", "3.4 KB", "12.0 MB": decimal units, as rates are usually read. */
static const char *human(double bytes, char *buf, size_t len) {
    const char *units[] = {"B", "KB", "MB", "GB"};
    int u = 0;
    while (bytes >= 1000 && u < 3) {
        bytes /= 1000;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
    return buf;
}

/* The last path segment of a URL, without the query: the file's name. */
static void name_from_url(const char *url, char *out, size_t len, int index) {
    const char *end = url + strcspn(url, "?#");
    const char *start = end;
    while (start > url && start[-1] != '/')
        start--;
    size_t n = (size_t)(end - start);
    if (n == 0 || n >= len)
        snprintf(out, len, "file-%d", index);
    else
        snprintf(out, len, "%.*s", (int)n, start);
}

/* ---- drawing ---------------------------------------------------------- */

/* The font as one white-on-transparent texture, glyphs side by side. */
static SDL_Texture *make_font(SDL_Renderer *r) {
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, FONT_COUNT * FONT_W, FONT_H, 32, SDL_PIXELFORMAT_RGBA32);
    if (!s)
        return NULL;
    Uint32 on = SDL_MapRGBA(s->format, 255, 255, 255, 255), off = SDL_MapRGBA(s->format, 0, 0, 0, 0);
    for (int g = 0; g < FONT_COUNT; g++)
        for (int y = 0; y < FONT_H; y++)
            for (int x = 0; x < FONT_W; x++) {
                Uint32 *px = (Uint32 *)((Uint8 *)s->pixels + y * s->pitch) + g * FONT_W + x;
                *px = font_glyphs[g][y * (FONT_W + 1) + x] == '#' ? on : off;
            }
    SDL_Texture *t = SDL_CreateTextureFromSurface(r, s);
    SDL_FreeSurface(s);
    if (t)
        SDL_SetTextureBlendMode(t, SDL_BLENDMODE_BLEND);
    return t;
}

static void draw_text(game_t *g, int x, int y, SDL_Color c, const char *text) {
    SDL_SetTextureColorMod(g->font, c.r, c.g, c.b);
    for (const char *p = text; *p; p++, x += CHAR_W) {
        int ch = (unsigned char)*p;
        if (ch < FONT_FIRST || ch >= FONT_FIRST + FONT_COUNT)
            ch = '?';
        SDL_Rect src = {(ch - FONT_FIRST) * FONT_W, 0, FONT_W, FONT_H};
        SDL_Rect dst = {x, y, FONT_W * TEXT_SCALE, FONT_H * TEXT_SCALE};
        SDL_RenderCopy(g->renderer, g->font, &src, &dst);
    }
}

static void draw_text_right(game_t *g, int right, int y, SDL_Color c, const char *text) {
    draw_text(g, right - (int)strlen(text) * CHAR_W + TEXT_SCALE, y, c, text);
}

static void fill(SDL_Renderer *r, SDL_Rect rect, SDL_Color c) {
    SDL_SetRenderDrawColor(r, c.r, c.g, c.b, 255);
    SDL_RenderFillRect(r, &rect);
}

/* The inside of row i's bar (inside its 1-pixel border). */
static SDL_Rect bar_rect(int i) {
    SDL_Rect r = {MARGIN + 1, HEADER_H + i * ROW_H + BAR_Y + 1, WIN_W - 2 * MARGIN - 2, BAR_H - 2};
    return r;
}

static void draw_row(game_t *g, int i, double t) {
    const download_t *f = &g->files[i];
    int y = HEADER_H + i * ROW_H;
    char done[16], total[16], rate[16], eta[24], info[96];
    human((double)f->done, done, sizeof done);
    SDL_Color bar = COL_RUNNING, text = COL_TEXT;
    double frac = f->total > 0 ? (double)f->done / (double)f->total : 0;
    switch (f->state) {
    case RUNNING: {
        double elapsed = t - f->started;
        double bytes_per_s = elapsed > 0 ? (double)f->done / elapsed : 0;
        if (f->total > 0 && bytes_per_s > 0)
            snprintf(eta, sizeof eta, "ETA %.1f s", (double)(f->total - f->done) / bytes_per_s);
        else
            snprintf(eta, sizeof eta, "ETA --");
        snprintf(info, sizeof info, "%s / %s  %s/s  %s", done,
                 f->total >= 0 ? human((double)f->total, total, sizeof total) : "?",
                 human(bytes_per_s, rate, sizeof rate), eta);
        break;
    }
    case DONE:
        snprintf(info, sizeof info, "done  %s in %.1f s", done, f->ended - f->started);
        bar = text = COL_DONE;
        frac = 1;
        break;
    case FAILED:
        snprintf(info, sizeof info, "failed: %s", f->message);
        bar = text = COL_FAILED;
        frac = 1;
        break;
    case CANCELLED:
        snprintf(info, sizeof info, "cancelled at %s", done);
        bar = text = COL_CANCELLED;
        frac = 1;
        break;
    case IDLE:
        snprintf(info, sizeof info, "press N to start");
        text = COL_DIM;
        break;
    }
    draw_text(g, MARGIN, y, i == g->selected ? COL_SELECTED : COL_TEXT, f->name);
    draw_text_right(g, WIN_W - MARGIN, y, text, info);

    SDL_Rect inside = bar_rect(i);
    SDL_Rect border = {inside.x - 1, inside.y - 1, inside.w + 2, inside.h + 2};
    fill(g->renderer, border, i == g->selected ? COL_SELECTED : COL_BORDER);
    fill(g->renderer, inside, COL_TRACK);
    SDL_Rect filled = inside;
    filled.w = (int)(frac * inside.w);
    if (filled.w > 0)
        fill(g->renderer, filled, bar);
}

/* ---- downloads -------------------------------------------------------- */

static void start(game_t *g, int i) {
    download_t *f = &g->files[i];
    net_params params = {0};
    params.progress = true;
    params.user_data = f;
    f->state = RUNNING;
    f->started = now();
    f->id = net_download(f->url, "GET", &params, f->name, NET_DIR_DOCUMENTS);
}

static void cancel(download_t *f) {
    if (f->state == RUNNING && net_cancel(f->id)) {
        f->state = CANCELLED;
        f->ended = now();
        printf("cancelled: %s\n", f->name);
    }
}

static void on_event(const net_event *ev) {
    download_t *f = ev->user_data;
    f->done = ev->bytes_transferred;
    if (ev->bytes_estimated >= 0)
        f->total = ev->bytes_estimated;
    if (ev->phase != NET_PHASE_ENDED)
        return;
    f->ended = now();
    if (ev->is_error) {
        f->state = FAILED;
        snprintf(f->message, sizeof f->message, "%s", net_error_name(ev->error_code));
        printf("failed: %s: %s: %s\n", f->name, net_error_name(ev->error_code), ev->error);
    } else if (ev->status < 200 || ev->status > 299) {
        f->state = FAILED;
        snprintf(f->message, sizeof f->message, "HTTP status %d", (int)ev->status);
        printf("failed: %s: HTTP status %d\n", f->name, (int)ev->status);
    } else {
        f->state = DONE;
        printf("done: %s %lld\n", f->name, f->done);
    }
    fflush(stdout);
}

/* ---- main loop -------------------------------------------------------- */

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [-o OUTDIR] [--start K] [--linger SECONDS] [--screenshot FILE.bmp]\n"
            "          [--press \"KEY ...\"] URL... (1 to %d URLs)\n",
            argv0, MAX_FILES);
}

static int save_screenshot(SDL_Renderer *r, const char *path) {
    int w, h;
    if (SDL_GetRendererOutputSize(r, &w, &h) != 0)
        return -1;
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, w, h, 24, SDL_PIXELFORMAT_RGB24);
    if (!s)
        return -1;
    int rc = SDL_RenderReadPixels(r, NULL, SDL_PIXELFORMAT_RGB24, s->pixels, s->pitch);
    if (rc == 0)
        rc = SDL_SaveBMP(s, path);
    SDL_FreeSurface(s);
    return rc;
}

/* Pushes SDL_KEYDOWN events for the space-separated SDL key names. */
static int press_keys(const char *keys) {
    char name[32];
    while (*keys) {
        size_t n = strcspn(keys, " ");
        if (n > 0) {
            snprintf(name, sizeof name, "%.*s", (int)n, keys);
            SDL_Keycode key = SDL_GetKeyFromName(name);
            if (key == SDLK_UNKNOWN) {
                fprintf(stderr, "--press: unknown key '%s'\n", name);
                return -1;
            }
            SDL_Event e;
            memset(&e, 0, sizeof e);
            e.type = SDL_KEYDOWN;
            e.key.state = SDL_PRESSED;
            e.key.keysym.sym = key;
            SDL_PushEvent(&e);
        }
        keys += n + (keys[n] == ' ');
    }
    return 0;
}

int main(int argc, char *argv[]) {
    const char *outdir = "downloads", *screenshot = NULL, *press = "";
    double linger = 3;
    int first = -1, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) {
            usage(argv[0]);
            return 2;
        }
        if (!strcmp(opt, "-o"))
            outdir = val;
        else if (!strcmp(opt, "--start"))
            first = atoi(val);
        else if (!strcmp(opt, "--linger"))
            linger = atof(val);
        else if (!strcmp(opt, "--screenshot"))
            screenshot = val;
        else if (!strcmp(opt, "--press"))
            press = val;
        else {
            usage(argv[0]);
            return 2;
        }
        i++;
    }
    static game_t game;
    game_t *g = &game;
    g->count = argc - i;
    if (g->count < 1 || g->count > MAX_FILES) {
        usage(argv[0]);
        return 2;
    }
    for (int k = 0; k < g->count; k++) {
        g->files[k].url = argv[i + k];
        g->files[k].total = -1;
        name_from_url(g->files[k].url, g->files[k].name, sizeof g->files[k].name, k);
    }
    if (first < 0 || first > g->count)
        first = g->count;

    char abs_out[2 * PATH_MAX], cwd[PATH_MAX];
    if (outdir[0] == '/')
        snprintf(abs_out, sizeof abs_out, "%s", outdir);
    else if (getcwd(cwd, sizeof cwd))
        snprintf(abs_out, sizeof abs_out, "%s/%s", cwd, outdir);
    else
        return 2;
    if (!net_set_directory(NET_DIR_DOCUMENTS, abs_out)) {
        fprintf(stderr, "cannot use %s as output directory\n", abs_out);
        return 2;
    }

    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "SDL_Init: %s\n", SDL_GetError());
        return 2;
    }
    perf_start = SDL_GetPerformanceCounter();
    int win_h = HEADER_H + g->count * ROW_H + FOOTER_H;
    SDL_Window *window = SDL_CreateWindow("netdl in SDL2", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, WIN_W,
                                          win_h, 0);
    g->renderer = window ? SDL_CreateRenderer(window, -1, 0) : NULL;
    g->font = g->renderer ? make_font(g->renderer) : NULL;
    if (!g->font) {
        fprintf(stderr, "SDL: %s\n", SDL_GetError());
        return 2;
    }
    if (press_keys(press) != 0)
        return 2;

    for (g->started = 0; g->started < first; g->started++)
        start(g, g->started);

    /* Frame times over the last second: a ring of (end time, duration). */
    enum { RING = 256 };
    double ring_t[RING] = {0}, ring_ms[RING] = {0};
    int ring_pos = 0;
    double frame_ms = 0, poll_us = 0, last = now(), all_ended_at = -1;
    int quit = 0, status = 0;
    for (;;) {
        SDL_Event e;
        while (SDL_PollEvent(&e)) {
            if (e.type == SDL_QUIT)
                quit = 1;
            if (e.type != SDL_KEYDOWN)
                continue;
            switch (e.key.keysym.sym) {
            case SDLK_ESCAPE:
                quit = 1;
                break;
            case SDLK_UP:
                g->selected = g->selected > 0 ? g->selected - 1 : 0;
                break;
            case SDLK_DOWN:
                g->selected = g->selected + 1 < g->started ? g->selected + 1 : g->selected;
                break;
            case SDLK_c:
                cancel(&g->files[g->selected]);
                break;
            case SDLK_n:
                if (g->started < g->count) {
                    start(g, g->started);
                    g->selected = g->started++;
                }
                break;
            default:
                break;
            }
        }

        /* The one netdl call per frame: never blocks, allocates nothing. */
        net_event ev[64];
        Uint64 p0 = SDL_GetPerformanceCounter();
        size_t n = net_poll(ev, 64);
        poll_us = (double)(SDL_GetPerformanceCounter() - p0) * 1e6 / (double)SDL_GetPerformanceFrequency();
        for (size_t k = 0; k < n; k++)
            on_event(&ev[k]);

        double t = now();
        int running = 0, done = 0, failed = 0;
        for (int k = 0; k < g->started; k++) {
            running += g->files[k].state == RUNNING;
            done += g->files[k].state == DONE;
            failed += g->files[k].state == FAILED;
        }
        if (running > 0 || g->started == 0) /* nothing started yet: wait for N */
            all_ended_at = -1;
        else if (all_ended_at < 0)
            all_ended_at = t;
        int ending = quit || (all_ended_at >= 0 && t - all_ended_at >= linger);

        /* Draw. */
        double worst = frame_ms;
        for (int k = 0; k < RING; k++)
            if (t - ring_t[k] <= 1.0 && ring_ms[k] > worst)
                worst = ring_ms[k];
        char line[128];
        fill(g->renderer, (SDL_Rect){0, 0, WIN_W, win_h}, COL_BG);
        snprintf(line, sizeof line, "netdl %s in SDL2", net_version());
        draw_text(g, MARGIN, 12, COL_TEXT, line);
        snprintf(line, sizeof line, "frame %4.1f ms  worst %4.1f ms (1 s)  net_poll %3.0f us", frame_ms, worst,
                 poll_us);
        draw_text(g, MARGIN, 34, COL_DIM, line);
        for (int k = 0; k < g->count; k++)
            draw_row(g, k, t);
        int fy = HEADER_H + g->count * ROW_H + 6;
        snprintf(line, sizeof line, "Up/Down select  C cancel  N start next (%d left)  Esc quit",
                 g->count - g->started);
        draw_text(g, MARGIN, fy, COL_DIM, line);
        if (all_ended_at >= 0)
            snprintf(line, sizeof line, "%d done, %d failed: closing in %.1f s", done, failed,
                     linger - (t - all_ended_at) > 0 ? linger - (t - all_ended_at) : 0);
        else
            snprintf(line, sizeof line, "%d running, %d done, %d failed", running, done, failed);
        draw_text(g, MARGIN, fy + 24, COL_TEXT, line);

        status = failed > 0 ? 1 : 0;
        if (ending && screenshot) {
            if (save_screenshot(g->renderer, screenshot) != 0) {
                fprintf(stderr, "screenshot: %s\n", SDL_GetError());
                status = 1;
            }
            for (int k = 0; k < g->started; k++) {
                SDL_Rect r = bar_rect(k);
                printf("bar %s %s %d %d %d %d\n", g->files[k].name, state_names[g->files[k].state], r.x, r.y, r.w,
                       r.h);
            }
        }
        SDL_RenderPresent(g->renderer);
        if (ending) { /* Esc, or every download ended LINGER seconds ago */
            for (int k = 0; k < g->started; k++)
                cancel(&g->files[k]);
            break;
        }

        /* Hold about 60 frames per second, then record this frame's time. */
        double spent_ms = (now() - last) * 1000;
        if (spent_ms < FRAME_MS)
            SDL_Delay((Uint32)(FRAME_MS - spent_ms));
        double end = now();
        frame_ms = (end - last) * 1000;
        last = end;
        ring_t[ring_pos] = end;
        ring_ms[ring_pos] = frame_ms;
        ring_pos = (ring_pos + 1) % RING;
    }
    net_shutdown(); /* removes the temporary files of cancelled downloads */
    SDL_DestroyTexture(g->font);
    SDL_DestroyRenderer(g->renderer);
    SDL_DestroyWindow(window);
    SDL_Quit();
    return status;
}
