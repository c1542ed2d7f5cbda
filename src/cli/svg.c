/* Learning curves as a hand-written SVG: per strategy the mean accuracy as
 * a line over a min-max band, axes with ticks and labels, a legend, and
 * dashed lines at the full-data accuracy and its 98%. Written atomically.
 */
#include "cli/cli.h"
#include "core/internal.h"

#include <math.h>

#define SVG_W 760
#define SVG_H 480
#define PAD_L 70
#define PAD_R 190
#define PAD_T 40
#define PAD_B 60
#define TICKS 6

static const char *const PALETTE[] = {"#444444", "#d62728", "#1f77b4", "#2ca02c",
                                      "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"};
#define N_COLOURS ((int)(sizeof PALETTE / sizeof PALETTE[0]))

typedef struct frame {
    double x0, x1, y0, y1; /* data ranges */
} frame;

static double px(const frame *f, double x)
{
    return PAD_L + (x - f->x0) / (f->x1 - f->x0) * (SVG_W - PAD_L - PAD_R);
}

static double py(const frame *f, double y)
{
    return SVG_H - PAD_B - (y - f->y0) / (f->y1 - f->y0) * (SVG_H - PAD_T - PAD_B);
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for a range. */
static double tick_step(double range)
{
    double raw = range / TICKS, p = pow(10.0, floor(log10(raw))), m = raw / p;

    return (m < 1.5 ? 1.0 : m < 3.5 ? 2.0 : m < 7.5 ? 5.0 : 10.0) * p;
}

/* The data ranges: x over every curve's labels, y over every band and the
 * reference, padded a little. */
static frame fit(const cli_curve *c, int n, double reference)
{
    frame f = {INFINITY, -INFINITY, INFINITY, -INFINITY};

    for (int k = 0; k < n; k++)
        for (int i = 0; i < c[k].n; i++) {
            f.x0 = fmin(f.x0, (double)c[k].labels[i]);
            f.x1 = fmax(f.x1, (double)c[k].labels[i]);
            f.y0 = fmin(f.y0, c[k].lo[i]);
            f.y1 = fmax(f.y1, c[k].hi[i]);
        }
    if (isfinite(reference)) {
        f.y0 = fmin(f.y0, 0.98 * reference);
        f.y1 = fmax(f.y1, reference);
    }
    if (!(f.x1 > f.x0))
        f.x0 = 0.0, f.x1 = isfinite(f.x1) && f.x1 > 0 ? f.x1 : 1.0;
    if (!(f.y1 > f.y0))
        f.y0 = isfinite(f.y0) ? f.y0 - 0.05 : 0.0, f.y1 = f.y0 + 0.1;
    f.y0 -= 0.02 * (f.y1 - f.y0);
    f.y1 += 0.02 * (f.y1 - f.y0);
    return f;
}

static void axes(FILE *fp, const frame *f, const char *title)
{
    double step;

    fprintf(fp, "<rect x='0' y='0' width='%d' height='%d' fill='white'/>\n", SVG_W, SVG_H);
    fprintf(fp, "<text x='%d' y='24' font-size='16' text-anchor='middle'>", SVG_W / 2);
    cli_xml_text(fp, title);
    fprintf(fp, "</text>\n");
    fprintf(fp, "<g stroke='black' stroke-width='1'>"
                "<line x1='%d' y1='%d' x2='%d' y2='%d'/><line x1='%d' y1='%d' x2='%d' y2='%d'/>"
                "</g>\n",
            PAD_L, SVG_H - PAD_B, SVG_W - PAD_R, SVG_H - PAD_B, PAD_L, PAD_T, PAD_L,
            SVG_H - PAD_B);

    /* ticks on round values inside each range, with a light grid */
    step = tick_step(f->x1 - f->x0);
    for (double x = ceil(f->x0 / step) * step; x <= f->x1 + 1e-9; x += step)
        fprintf(fp, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='black'/>"
                    "<text x='%.1f' y='%d' font-size='11' text-anchor='middle'>%g</text>\n",
                px(f, x), SVG_H - PAD_B, px(f, x), SVG_H - PAD_B + 5, px(f, x),
                SVG_H - PAD_B + 18, x);
    step = tick_step(f->y1 - f->y0);
    for (double y = ceil(f->y0 / step) * step; y <= f->y1 + 1e-9; y += step)
        fprintf(fp, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#e0e0e0'/>"
                    "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='black'/>"
                    "<text x='%d' y='%.1f' font-size='11' text-anchor='end'>%.3g</text>\n",
                PAD_L, py(f, y), SVG_W - PAD_R, py(f, y), PAD_L - 5, py(f, y), PAD_L, py(f, y),
                PAD_L - 8, py(f, y) + 4, y);
    fprintf(fp, "<text x='%d' y='%d' font-size='13' text-anchor='middle'>labels</text>\n",
            (PAD_L + SVG_W - PAD_R) / 2, SVG_H - 15);
    fprintf(fp, "<text x='18' y='%d' font-size='13' text-anchor='middle' "
                "transform='rotate(-90 18 %d)'>test accuracy</text>\n",
            (PAD_T + SVG_H - PAD_B) / 2, (PAD_T + SVG_H - PAD_B) / 2);
}

/* One strategy: the band as a closed polygon (hi forward, lo back), then
 * the mean as a polyline, then its legend entry. */
static void curve(FILE *fp, const frame *f, const cli_curve *c, int k)
{
    const char *colour = PALETTE[k % N_COLOURS];
    int ly = PAD_T + 10 + 22 * k;

    fprintf(fp, "<polygon fill='%s' fill-opacity='0.15' stroke='none' points='", colour);
    for (int i = 0; i < c->n; i++)
        fprintf(fp, "%.1f,%.1f ", px(f, (double)c->labels[i]), py(f, c->hi[i]));
    for (int i = c->n - 1; i >= 0; i--)
        fprintf(fp, "%.1f,%.1f ", px(f, (double)c->labels[i]), py(f, c->lo[i]));
    fprintf(fp, "'/>\n<polyline fill='none' stroke='%s' stroke-width='2' points='", colour);
    for (int i = 0; i < c->n; i++)
        fprintf(fp, "%.1f,%.1f ", px(f, (double)c->labels[i]), py(f, c->mean[i]));
    fprintf(fp, "'/>\n");
    fprintf(fp, "<rect x='%d' y='%d' width='18' height='10' fill='%s' fill-opacity='0.3' "
                "stroke='%s'/><text x='%d' y='%d' font-size='12'>",
            SVG_W - PAD_R + 15, ly - 9, colour, colour, SVG_W - PAD_R + 40, ly);
    cli_xml_text(fp, c->name);
    fprintf(fp, "</text>\n");
}

void cli_xml_text(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '<')
            fputs("&lt;", fp);
        else if (*s == '>')
            fputs("&gt;", fp);
        else if (*s == '&')
            fputs("&amp;", fp);
        else if (*s == '\'')
            fputs("&apos;", fp);
        else
            fputc(*s, fp);
    }
}

int cli_curves_svg(const char *path, const char *title, const cli_curve *curves, int n,
                   double reference)
{
    dg__outfile out;
    dg_error err;
    frame f = fit(curves, n, reference);
    int ly = PAD_T + 10 + 22 * n;

    if (dg__out_open(&out, path, &err) != 0)
        return cli_fail(&err);
    fprintf(out.fp, "<?xml version='1.0' encoding='UTF-8'?>\n"
                    "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
                    "viewBox='0 0 %d %d' font-family='sans-serif'>\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    axes(out.fp, &f, title);
    for (int k = 0; k < n; k++)
        curve(out.fp, &f, &curves[k], k);
    if (isfinite(reference)) {
        static const double share[2] = {1.0, 0.98};

        for (int i = 0; i < 2; i++)
            fprintf(out.fp, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='black' "
                            "stroke-dasharray='%s'/>\n",
                    PAD_L, py(&f, share[i] * reference), SVG_W - PAD_R,
                    py(&f, share[i] * reference), i ? "2,3" : "6,4");
        fprintf(out.fp, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='black' "
                        "stroke-dasharray='6,4'/><text x='%d' y='%d' font-size='12'>"
                        "full data %.4f</text>\n"
                        "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='black' "
                        "stroke-dasharray='2,3'/><text x='%d' y='%d' font-size='12'>"
                        "98%% of full data</text>\n",
                SVG_W - PAD_R + 15, ly - 4, SVG_W - PAD_R + 33, ly - 4, SVG_W - PAD_R + 40, ly,
                reference, SVG_W - PAD_R + 15, ly + 18, SVG_W - PAD_R + 33, ly + 18,
                SVG_W - PAD_R + 40, ly + 22);
    }
    fprintf(out.fp, "</svg>\n");
    if (ferror(out.fp)) {
        dg__out_abort(&out);
        return cli_error("%s: cannot write the plot", path);
    }
    return dg__out_commit(&out, &err) != 0 ? cli_fail(&err) : 0;
}
