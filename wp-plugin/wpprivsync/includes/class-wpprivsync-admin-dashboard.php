<?php
/**
 * Tools → Privacy Sync → Dashboard (issue 16.3): requests per month by action, median and 95th
 * percentile time to done, the share answered within the deadline (from the plugin's requests
 * mirror, SQL aggregates cached for five minutes), open residues, open and overdue tasks, dead
 * steps, the heartbeat and ActiveCampaign budget use (from the daemon's heartbeat).
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The dashboard view.
 */
class Wpprivsync_Admin_Dashboard {

	/** Months shown. */
	const MONTHS = 12;
	/** Seconds the aggregates are cached (they read every request of 12 months). */
	const CACHE_S = 300;

	/**
	 * The n-th smallest time to done (seconds) among done requests since a time.
	 *
	 * @param string $since  UTC datetime.
	 * @param int    $offset Rank from 0.
	 * @return int|null
	 */
	private static function nth_duration( $since, $offset ) {
		global $wpdb;
		$table = Wpprivsync_Requests_Mirror::table();
		$value = $wpdb->get_var( $wpdb->prepare( "SELECT TIMESTAMPDIFF(SECOND, received_at, completed_at) AS d FROM {$table} WHERE status = 'done' AND completed_at IS NOT NULL AND received_at >= %s ORDER BY d LIMIT 1 OFFSET %d", $since, max( 0, (int) $offset ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		return null === $value ? null : (int) $value;
	}

	/**
	 * The aggregates of the mirror table.
	 *
	 * @return array
	 */
	public static function stats() {
		$cached = get_transient( 'wpprivsync_dashboard' );
		if ( is_array( $cached ) ) {
			return $cached;
		}
		global $wpdb;
		$table  = Wpprivsync_Requests_Mirror::table();
		$since  = gmdate( 'Y-m-01 00:00:00', strtotime( gmdate( 'Y-m-01' ) . ' -' . ( self::MONTHS - 1 ) . ' months' ) );
		$now    = gmdate( 'Y-m-d H:i:s' );
		$months = array();
		for ( $i = self::MONTHS - 1; $i >= 0; $i-- ) {
			$months[] = gmdate( 'Y-m', strtotime( gmdate( 'Y-m-01' ) . " -{$i} months" ) );
		}
		$rows    = $wpdb->get_results( $wpdb->prepare( "SELECT DATE_FORMAT(received_at, '%%Y-%%m') AS m, action, COUNT(*) AS n FROM {$table} WHERE received_at >= %s GROUP BY m, action", $since ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		$per     = array();
		$actions = array();
		foreach ( (array) $rows as $r ) {
			$per[ $r['m'] ][ $r['action'] ] = (int) $r['n'];
			$actions[ $r['action'] ]        = true;
		}
		$done  = $wpdb->get_row( $wpdb->prepare( "SELECT COUNT(*) AS n, SUM(completed_at <= due_at) AS in_time FROM {$table} WHERE status = 'done' AND completed_at IS NOT NULL AND received_at >= %s", $since ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		$n     = (int) ( $done['n'] ?? 0 );
		$open  = $wpdb->get_row( $wpdb->prepare( "SELECT COUNT(*) AS n, SUM(due_at < %s) AS overdue FROM {$table} WHERE status IN ('open', 'failed')", $now ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		$stats = array(
			'months'    => $months,
			'actions'   => array_keys( $actions ),
			'per_month' => $per,
			'done'      => $n,
			'median_s'  => $n ? self::nth_duration( $since, (int) floor( ( $n - 1 ) * 0.5 ) ) : null,
			'p95_s'     => $n ? self::nth_duration( $since, (int) ceil( ( $n - 1 ) * 0.95 ) ) : null,
			'within'    => $n ? (int) $done['in_time'] / $n : null,
			'open'      => (int) ( $open['n'] ?? 0 ),
			'overdue'   => (int) ( $open['overdue'] ?? 0 ),
			'at'        => gmdate( 'Y-m-d H:i:s' ),
		);
		sort( $stats['actions'] );
		set_transient( 'wpprivsync_dashboard', $stats, self::CACHE_S );
		return $stats;
	}

	/**
	 * A duration in words.
	 *
	 * @param int|null $seconds Seconds.
	 * @return string
	 */
	private static function duration( $seconds ) {
		if ( null === $seconds ) {
			return __( 'no data yet', 'wpprivsync' );
		}
		return $seconds < 60 ? sprintf( /* translators: %d: seconds. */ _n( '%d second', '%d seconds', $seconds, 'wpprivsync' ), $seconds ) : human_time_diff( 0, $seconds );
	}

	/**
	 * One figure card.
	 *
	 * @param string $id    Element id.
	 * @param string $label Label.
	 * @param string $value Value (text).
	 * @param string $note  Small text under it.
	 * @param string $mark  ok|stale|''.
	 */
	private static function card( $id, $label, $value, $note = '', $mark = '' ) {
		echo '<div class="wpprivsync-card" id="' . esc_attr( $id ) . '"><span>' . esc_html( $label ) . '</span><strong class="' . esc_attr( $mark ? 'wpprivsync-' . $mark : '' ) . '">' . esc_html( $value ) . '</strong>' . ( '' !== $note ? '<small>' . esc_html( $note ) . '</small>' : '' ) . '</div>';
	}

	/**
	 * Renders the view.
	 */
	public static function render() {
		$stats = self::stats();
		$beat  = Wpprivsync_Rest::last_heartbeat();
		$tasks = $beat && isset( $beat['tasks'] ) ? (array) $beat['tasks'] : array();
		$late  = count( array_filter( $tasks, static fn( $t ) => is_array( $t ) && ! empty( $t['overdue'] ) ) );
		$dead  = $beat ? (int) ( $beat['counts']['steps_dead'] ?? count( (array) $beat['failed'] ) ) : 0;
		$ac    = $beat && isset( $beat['activecampaign'] ) && is_array( $beat['activecampaign'] ) ? $beat['activecampaign'] : array();
		echo '<h2>' . esc_html__( 'Dashboard', 'wpprivsync' ) . '</h2>';
		/* translators: %s: date and time. */
		echo '<p class="description" id="wpprivsync-dash-as-of">' . esc_html( sprintf( __( 'Request figures as of %s (counted again every 5 minutes); the daemon\'s figures as of its last heartbeat.', 'wpprivsync' ), Wpprivsync_Admin_Tabs::when( $stats['at'] ?? '' ) ) ) . '</p>';
		echo '<div class="wpprivsync-cards">';
		$fresh = $beat && $beat['age_s'] <= Wpprivsync_Admin::STALE_AFTER_S;
		/* translators: %d: seconds. */
		self::card( 'wpprivsync-dash-heartbeat', __( 'Daemon heartbeat', 'wpprivsync' ), $beat ? sprintf( __( '%d s ago', 'wpprivsync' ), $beat['age_s'] ) : __( 'never', 'wpprivsync' ), $fresh ? __( 'running', 'wpprivsync' ) : __( 'not reporting: check the daemon', 'wpprivsync' ), $fresh ? 'ok' : 'stale' );
		/* translators: %s: number of overdue requests. */
		self::card( 'wpprivsync-dash-open', __( 'Open requests', 'wpprivsync' ), number_format_i18n( $stats['open'] ), sprintf( __( '%s overdue', 'wpprivsync' ), number_format_i18n( $stats['overdue'] ) ), $stats['overdue'] ? 'stale' : '' );
		self::card( 'wpprivsync-dash-median', __( 'Median time to done', 'wpprivsync' ), self::duration( $stats['median_s'] ) );
		self::card( 'wpprivsync-dash-p95', __( '95th percentile time to done', 'wpprivsync' ), self::duration( $stats['p95_s'] ) );
		/* translators: %s: number of overdue tasks. */
		self::card( 'wpprivsync-dash-tasks', __( 'Open manual tasks', 'wpprivsync' ), number_format_i18n( count( $tasks ) ), sprintf( __( '%s overdue', 'wpprivsync' ), number_format_i18n( $late ) ), $late ? 'stale' : '' );
		self::card( 'wpprivsync-dash-dead', __( 'Dead steps', 'wpprivsync' ), number_format_i18n( $dead ), $dead ? __( 'retry them on the Overview', 'wpprivsync' ) : '', $dead ? 'stale' : '' );
		$scanned = class_exists( 'Wpprivsync_Residue_Scan' ) ? Wpprivsync_Residue_Scan::scanned_count() : 0;
		if ( $scanned > 0 ) {
			$residues = (int) Wpprivsync_Residue_Scan::open_count();
			/* translators: %s: number of people whose latest residue scan is counted. */
			self::card( 'wpprivsync-dash-residues', __( 'Open residues', 'wpprivsync' ), number_format_i18n( $residues ), sprintf( __( 'in the latest scans of %s people', 'wpprivsync' ), number_format_i18n( $scanned ) ), $residues ? 'stale' : '' );
		} else {
			self::card( 'wpprivsync-dash-residues', __( 'Open residues', 'wpprivsync' ), '—', __( 'no scan yet', 'wpprivsync' ) );
		}
		$use = isset( $ac['use'] ) && null !== $ac['use'] ? (float) $ac['use'] : null;
		/* translators: 1: calls, 2: 429 answers. */
		self::card( 'wpprivsync-dash-ac', __( 'ActiveCampaign budget use', 'wpprivsync' ), null === $use ? '—' : number_format_i18n( 100 * $use, 1 ) . ' %', $ac ? sprintf( __( '%1$s calls, %2$s refused (429)', 'wpprivsync' ), number_format_i18n( (int) ( $ac['calls'] ?? 0 ) ), number_format_i18n( (int) ( $ac['http429'] ?? 0 ) ) ) : __( 'not reported yet', 'wpprivsync' ) );
		echo '</div>';

		echo '<h3>' . esc_html__( 'Answered within the deadline', 'wpprivsync' ) . '</h3>';
		/* translators: %s: number of requests. */
		echo '<p>' . Wpprivsync_Charts::meter( 'wpprivsync-dash-within', __( 'Share of done requests answered within the deadline', 'wpprivsync' ), $stats['within'] ) . ' <span class="description">' . esc_html( sprintf( _n( 'of %s request done in the last 12 months', 'of %s requests done in the last 12 months', $stats['done'], 'wpprivsync' ), number_format_i18n( $stats['done'] ) ) ) . '</span></p>'; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- the chart escapes every value.

		echo '<h3>' . esc_html__( 'Requests per month by action', 'wpprivsync' ) . '</h3>';
		if ( ! $stats['actions'] ) {
			echo '<p class="wpprivsync-empty">' . esc_html__( 'No requests in the last 12 months.', 'wpprivsync' ) . '</p>';
		} else {
			echo Wpprivsync_Charts::grouped_bars( 'wpprivsync-dash-months', __( 'Requests per month by action', 'wpprivsync' ), $stats['months'], $stats['actions'], $stats['per_month'] ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- the chart escapes every value.
		}
	}
}
