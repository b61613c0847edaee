package ai.jamba.bench;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleFunction;

/**
 * A small chart drawn with Java2D into a PNG (headless): log or linear axes, line series with points, or groups
 * of bars. Enough for the benchmark plots, nothing more.
 */
final class Chart {
    /** A named series: points (x, y) for lines; for bars, one value per group (NaN: no bar). */
    record Series(String name, Color color, double[] x, double[] y, boolean dashed) {}

    private static final int W = 960, H = 600, LEFT = 90, RIGHT = 250, TOP = 60, BOTTOM = 70;
    static final Color OURS = new Color(0x1f77b4), PEER = new Color(0xd62728), FLOOR = new Color(0x555555), OTHER = new Color(0x2ca02c);

    private final String title, xLabel, yLabel;
    private String subtitle = "";
    private final boolean logX, logY;
    private final List<Series> series = new ArrayList<>();
    private String[] groups;
    private boolean wholeX;

    Chart(String title, String xLabel, String yLabel, boolean logX, boolean logY) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
        this.logX = logX;
        this.logY = logY;
    }

    /** A second line under the title (the GPU, the date). */
    Chart subtitle(String text) {
        subtitle = text;
        return this;
    }

    Chart add(Series s) {
        series.add(s);
        return this;
    }

    /** Ticks only at whole numbers on the x axis (rounds, counts). */
    Chart wholeX() {
        wholeX = true;
        return this;
    }

    /** Bars instead of lines: one group per name, each series one bar in every group. */
    Chart bars(String... groupNames) {
        groups = groupNames;
        return this;
    }

    void write(Path png) throws IOException {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        double[] yr = range(true), xr = groups == null ? range(false) : new double[]{0, groups.length};
        int pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
        DoubleFunction<Double> px = v -> LEFT + pw * frac(v, xr, logX && groups == null);
        DoubleFunction<Double> py = v -> TOP + ph * (1 - frac(v, yr, logY));

        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 17));
        g.drawString(title, LEFT, 26);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        g.drawString(subtitle, LEFT, 46);
        g.drawRect(LEFT, TOP, pw, ph);
        for (double t : ticks(yr, logY)) {
            int y = (int) Math.round(py.apply(t));
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(LEFT + 1, y, LEFT + pw - 1, y);
            g.setColor(Color.BLACK);
            String s = label(t);
            g.drawString(s, LEFT - 8 - g.getFontMetrics().stringWidth(s), y + 5);
        }
        if (groups == null) {
            for (double t : wholeX ? wholeTicks(xr) : ticks(xr, logX)) {
                int x = (int) Math.round(px.apply(t));
                g.setColor(new Color(0xe6e6e6));
                g.drawLine(x, TOP + 1, x, TOP + ph - 1);
                g.setColor(Color.BLACK);
                String s = label(t);
                g.drawString(s, x - g.getFontMetrics().stringWidth(s) / 2, TOP + ph + 20);
            }
        } else {
            for (int i = 0; i < groups.length; i++) {
                String s = groups[i];
                g.drawString(s, (int) (px.apply(i + 0.5) - g.getFontMetrics().stringWidth(s) / 2), TOP + ph + 20);
            }
        }
        g.drawString(xLabel, LEFT + pw / 2 - g.getFontMetrics().stringWidth(xLabel) / 2, H - 25);
        Graphics2D r = (Graphics2D) g.create();
        r.rotate(-Math.PI / 2);
        r.drawString(yLabel, -(TOP + ph / 2) - g.getFontMetrics().stringWidth(yLabel) / 2, 25);
        r.dispose();

        int legendY = TOP + 10;
        for (int si = 0; si < series.size(); si++) {
            Series s = series.get(si);
            g.setColor(s.color);
            g.setStroke(s.dashed ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{8f, 6f}, 0f) : new BasicStroke(2.5f));
            if (groups == null) {
                int prevX = -1, prevY = -1;
                for (int i = 0; i < s.x.length; i++) {
                    if (Double.isNaN(s.y[i])) continue;
                    int x = (int) Math.round(px.apply(s.x[i])), y = (int) Math.round(py.apply(s.y[i]));
                    if (prevX >= 0) g.drawLine(prevX, prevY, x, y);
                    g.fillOval(x - 4, y - 4, 8, 8);
                    g.setColor(Color.DARK_GRAY);
                    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
                    g.drawString(label(s.y[i]), x + 6, y - 6);
                    g.setColor(s.color);
                    prevX = x;
                    prevY = y;
                }
            } else {
                double slot = 0.8 / series.size();
                for (int i = 0; i < groups.length; i++) {
                    if (i >= s.y.length || Double.isNaN(s.y[i])) continue;
                    double x0 = i + 0.1 + si * slot;
                    int xa = (int) Math.round(px.apply(x0)), xb = (int) Math.round(px.apply(x0 + slot)) - 2;
                    int y = (int) Math.round(py.apply(s.y[i])), base = TOP + ph;
                    g.fillRect(xa, y, xb - xa, base - y);
                    g.setColor(Color.DARK_GRAY);
                    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
                    String v = label(s.y[i]);
                    g.drawString(v, (xa + xb) / 2 - g.getFontMetrics().stringWidth(v) / 2, y - 4);
                    g.setColor(s.color);
                }
            }
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
            g.drawLine(W - RIGHT + 15, legendY + si * 22, W - RIGHT + 45, legendY + si * 22);
            g.setColor(Color.BLACK);
            g.drawString(s.name, W - RIGHT + 52, legendY + si * 22 + 5);
        }
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    /** [min, max] over the series' values (x or y), widened a little (and to decades on a log axis). */
    private double[] range(boolean y) {
        double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
        for (Series s : series)
            for (double v : y ? s.y : s.x)
                if (!Double.isNaN(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
        boolean log = y ? logY : logX;
        if (log) return new double[]{Math.pow(10, Math.floor(Math.log10(lo))), Math.pow(10, Math.ceil(Math.log10(hi * 1.05)))};
        if (y && groups != null) lo = 0;
        double pad = (hi - lo) * 0.08;
        return new double[]{y ? Math.max(0, lo - pad) : lo - pad, hi + pad};
    }

    private static double frac(double v, double[] r, boolean log) {
        return log ? (Math.log(v) - Math.log(r[0])) / (Math.log(r[1]) - Math.log(r[0])) : (v - r[0]) / (r[1] - r[0]);
    }

    private static List<Double> ticks(double[] r, boolean log) {
        List<Double> t = new ArrayList<>();
        if (log) {
            for (double d = r[0]; d <= r[1] * 1.0001; d *= 10)
                for (int m : new int[]{1, 2, 5}) if (d * m <= r[1] * 1.0001) t.add(d * m);
            return t;
        }
        double step = Math.pow(10, Math.floor(Math.log10((r[1] - r[0]) / 5)));
        if ((r[1] - r[0]) / step > 10) step *= 2;
        for (double v = Math.ceil(r[0] / step) * step; v <= r[1]; v += step) t.add(v);
        return t;
    }

    /** Whole numbers across r, at most about ten. */
    private static List<Double> wholeTicks(double[] r) {
        List<Double> t = new ArrayList<>();
        double step = Math.max(1, Math.ceil((r[1] - r[0]) / 10));
        for (double v = Math.ceil(r[0]) + 0.0; v <= r[1]; v += step) t.add(v); // + 0.0: no "-0"
        return t;
    }

    static String label(double v) {
        double a = Math.abs(v);
        if (a >= 1e6) return trim(v / 1e6) + "M";
        if (a >= 1e3) return trim(v / 1e3) + "K";
        return trim(v);
    }

    private static String trim(double v) {
        String s = Math.abs(v) >= 100 ? String.format("%.0f", v) : Math.abs(v) >= 10 ? String.format("%.1f", v) : String.format("%.2f", v);
        return s.contains(".") ? s.replaceAll("0+$", "").replaceAll("\\.$", "") : s;
    }
}
