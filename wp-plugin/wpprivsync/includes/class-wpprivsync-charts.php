<?php
/**
 * Charts drawn by the plugin itself as inline SVG (no script, no font or file from another
 * host). Readable without colour: every series has its own fill pattern as well as its colour,
 * every bar carries its number, and each chart has a data table under it.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Inline SVG charts.
 */
class Wpprivsync_Charts {

	/** Series colours (WordPress admin palette) and patterns, by position. */
	const COLOURS  = array( '#2271b1', '#d63638', '#008a20', '#dba617', '#8c8f94', '#9b59b6' );
	const PATTERNS = array( 'solid', 'stripes', 'dots', 'cross', 'grid', 'back' );

	/**
	 * The pattern definitions of a chart (one per series).
	 *
	 * @param string $id    Chart id.
	 * @param int    $count Series.
	 * @return string SVG.
	 */
	private static function defs( $id, $count ) {
		$out = '<defs>';
		for ( $i = 0; $i < $count; $i++ ) {
			$c    = self::COLOURS[ $i % count( self::COLOURS ) ];
			$kind = self::PATTERNS[ $i % count( self::PATTERNS ) ];
			$out .= '<pattern id="' . esc_attr( $id . '-p' . $i ) . '" width="6" height="6" patternUnits="userSpaceOnUse">';
			$out .= '<rect width="6" height="6" fill="' . esc_attr( $c ) . '" opacity="' . ( 'solid' === $kind ? '1' : '0.35' ) . '"/>';
			switch ( $kind ) {
				case 'stripes':
					$out .= '<path d="M0,6 L6,0" stroke="' . esc_attr( $c ) . '" stroke-width="2"/>';
					break;
				case 'dots':
					$out .= '<circle cx="3" cy="3" r="1.6" fill="' . esc_attr( $c ) . '"/>';
					break;
				case 'cross':
					$out .= '<path d="M0,0 L6,6 M6,0 L0,6" stroke="' . esc_attr( $c ) . '" stroke-width="1.2"/>';
					break;
				case 'grid':
					$out .= '<path d="M3,0 V6 M0,3 H6" stroke="' . esc_attr( $c ) . '" stroke-width="1.2"/>';
					break;
				case 'back':
					$out .= '<path d="M0,0 L6,6" stroke="' . esc_attr( $c ) . '" stroke-width="2"/>';
					break;
			}
			$out .= '</pattern>';
		}
		return $out . '</defs>';
	}

	/**
	 * Grouped bars: one group per category (e.g. month), one bar per series (e.g. action).
	 *
	 * @param string $id         Element id.
	 * @param string $title      Accessible title.
	 * @param array  $categories Category labels, in order.
	 * @param array  $series     Series labels, in order.
	 * @param array  $values     [category][series] => number.
	 * @return string Escaped HTML (SVG, legend and data table).
	 */
	public static function grouped_bars( $id, $title, array $categories, array $series, array $values ) {
		$max = 1;
		foreach ( $values as $row ) {
			foreach ( (array) $row as $v ) {
				$max = max( $max, (float) $v );
			}
		}
		$n_series = max( 1, count( $series ) );
		$group_w  = max( 24, 8 + 14 * $n_series );
		$left     = 34;
		$top      = 12;
		$plot_h   = 160;
		$width    = $left + max( 1, count( $categories ) ) * $group_w + 8;
		$height   = $top + $plot_h + 34;
		$svg      = '<svg class="wpprivsync-chart" id="' . esc_attr( $id ) . '" role="img" aria-labelledby="' . esc_attr( $id . '-title' ) . '" viewBox="0 0 ' . (int) $width . ' ' . (int) $height . '" width="' . (int) $width . '" height="' . (int) $height . '" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="10">';
		$svg     .= '<title id="' . esc_attr( $id . '-title' ) . '">' . esc_html( $title ) . '</title>';
		$svg     .= self::defs( $id, $n_series );
		// Axis and three grid lines with their values.
		for ( $g = 0; $g <= 2; $g++ ) {
			$y    = $top + $plot_h - $plot_h * $g / 2;
			$svg .= '<line x1="' . $left . '" x2="' . ( $width - 4 ) . '" y1="' . $y . '" y2="' . $y . '" stroke="#c3c4c7" stroke-width="' . ( 0 === $g ? 1 : 0.5 ) . '"/>';
			$svg .= '<text x="' . ( $left - 4 ) . '" y="' . ( $y + 3 ) . '" text-anchor="end" fill="#50575e">' . esc_html( number_format_i18n( $max * $g / 2 ) ) . '</text>';
		}
		foreach ( array_values( $categories ) as $ci => $cat ) {
			$x0 = $left + $ci * $group_w + 4;
			foreach ( array_values( $series ) as $si => $name ) {
				$v = (float) ( $values[ $cat ][ $name ] ?? 0 );
				$h = $plot_h * $v / $max;
				$x = $x0 + $si * 14;
				$y = $top + $plot_h - $h;
				/* translators: 1: series (e.g. erase), 2: category (e.g. 2026-11), 3: number. */
				$label = sprintf( __( '%1$s, %2$s: %3$s', 'wpprivsync' ), $name, $cat, number_format_i18n( $v ) );
				$svg  .= '<rect x="' . $x . '" y="' . round( $y, 1 ) . '" width="12" height="' . round( $h, 1 ) . '" fill="url(#' . esc_attr( $id . '-p' . $si ) . ')" stroke="' . esc_attr( self::COLOURS[ $si % count( self::COLOURS ) ] ) . '" data-series="' . esc_attr( $name ) . '" data-category="' . esc_attr( $cat ) . '" data-value="' . esc_attr( (string) $v ) . '"><title>' . esc_html( $label ) . '</title></rect>';
				if ( $v > 0 ) {
					$svg .= '<text x="' . ( $x + 6 ) . '" y="' . round( $y - 2, 1 ) . '" text-anchor="middle" fill="#1d2327" font-size="8">' . esc_html( number_format_i18n( $v ) ) . '</text>';
				}
			}
			$svg .= '<text x="' . ( $x0 + ( $group_w - 8 ) / 2 ) . '" y="' . ( $top + $plot_h + 14 ) . '" text-anchor="middle" fill="#1d2327">' . esc_html( $cat ) . '</text>';
		}
		$svg .= '</svg>';
		return '<figure class="wpprivsync-figure"><div class="wpprivsync-scroll">' . $svg . '</div>' . self::legend( $id, $series ) . self::data_table( $id, $title, $categories, $series, $values ) . '</figure>';
	}

	/**
	 * The legend: a swatch with the series' pattern and its name.
	 *
	 * @param string $id     Chart id.
	 * @param array  $series Series labels.
	 * @return string
	 */
	private static function legend( $id, array $series ) {
		$out = '<ul class="wpprivsync-legend">';
		foreach ( array_values( $series ) as $si => $name ) {
			$out .= '<li><svg width="14" height="14" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">' . self::defs( $id . '-l' . $si, $si + 1 ) . '<rect width="14" height="14" fill="url(#' . esc_attr( $id . '-l' . $si . '-p' . $si ) . ')" stroke="' . esc_attr( self::COLOURS[ $si % count( self::COLOURS ) ] ) . '"/></svg> ' . esc_html( $name ) . '</li>';
		}
		return $out . '</ul>';
	}

	/**
	 * The chart's numbers as a table (screen readers, and anyone who prefers numbers).
	 *
	 * @param string $id         Chart id.
	 * @param string $title      Title.
	 * @param array  $categories Categories.
	 * @param array  $series     Series.
	 * @param array  $values     Values.
	 * @return string
	 */
	private static function data_table( $id, $title, array $categories, array $series, array $values ) {
		$out = '<details class="wpprivsync-chart-data"><summary>' . esc_html__( 'Show the numbers', 'wpprivsync' ) . '</summary><div class="wpprivsync-scroll"><table class="widefat striped" id="' . esc_attr( $id . '-data' ) . '"><caption class="screen-reader-text">' . esc_html( $title ) . '</caption><thead><tr><th scope="col"></th>';
		foreach ( $series as $name ) {
			$out .= '<th scope="col">' . esc_html( $name ) . '</th>';
		}
		$out .= '</tr></thead><tbody>';
		foreach ( $categories as $cat ) {
			$out .= '<tr><th scope="row">' . esc_html( $cat ) . '</th>';
			foreach ( $series as $name ) {
				$out .= '<td>' . esc_html( number_format_i18n( (float) ( $values[ $cat ][ $name ] ?? 0 ) ) ) . '</td>';
			}
			$out .= '</tr>';
		}
		return $out . '</tbody></table></div></details>';
	}

	/**
	 * A horizontal meter with its percentage written on it (e.g. share within the deadline).
	 *
	 * @param string     $id       Element id.
	 * @param string     $label    Label.
	 * @param float|null $fraction 0..1, or null (no data).
	 * @return string
	 */
	public static function meter( $id, $label, $fraction ) {
		$text = null === $fraction ? __( 'no data yet', 'wpprivsync' ) : number_format_i18n( 100 * $fraction, 1 ) . ' %';
		$w    = null === $fraction ? 0 : round( 200 * max( 0, min( 1, $fraction ) ), 1 );
		$svg  = '<svg class="wpprivsync-chart" id="' . esc_attr( $id ) . '" role="img" aria-label="' . esc_attr( $label . ': ' . $text ) . '" viewBox="0 0 260 22" width="260" height="22" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11" data-value="' . esc_attr( null === $fraction ? '' : (string) $fraction ) . '">';
		$svg .= '<rect x="0" y="3" width="200" height="16" fill="#f0f0f1" stroke="#8c8f94"/>';
		$svg .= '<rect x="0" y="3" width="' . $w . '" height="16" fill="#2271b1"/>';
		$svg .= '<text x="206" y="15" fill="#1d2327">' . esc_html( $text ) . '</text></svg>';
		return $svg;
	}
}
