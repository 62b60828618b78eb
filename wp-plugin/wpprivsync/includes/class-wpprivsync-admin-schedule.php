<?php
/**
 * Tools → Privacy Sync → Schedule (issue 16.4): orders due for anonymisation by month (counted
 * by the daemon's daily retention job) and the WebinarJam deletions due (its open manual
 * tasks), from the daemon's heartbeat.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The schedule view.
 */
class Wpprivsync_Admin_Schedule {

	/**
	 * Renders the view.
	 */
	public static function render() {
		$beat     = Wpprivsync_Rest::last_heartbeat();
		$schedule = $beat && isset( $beat['schedule'] ) && is_array( $beat['schedule'] ) ? $beat['schedule'] : array();
		$orders   = isset( $schedule['orders_by_month'] ) && is_array( $schedule['orders_by_month'] ) ? $schedule['orders_by_month'] : array();
		echo '<h2>' . esc_html__( 'Schedule', 'wpprivsync' ) . '</h2>';

		echo '<h3>' . esc_html__( 'Orders due for anonymisation, by month', 'wpprivsync' ) . '</h3>';
		if ( empty( $schedule['orders_at'] ) ) {
			echo '<p class="wpprivsync-empty" id="wpprivsync-schedule-orders">' . esc_html__( 'Not counted yet: the daemon counts orders in its daily retention run.', 'wpprivsync' ) . '</p>';
		} elseif ( ! $orders ) {
			/* translators: %s: date and time. */
			echo '<p class="wpprivsync-empty" id="wpprivsync-schedule-orders">' . esc_html( sprintf( __( 'No order is under retention (counted %s).', 'wpprivsync' ), Wpprivsync_Admin_Tabs::when( (string) $schedule['orders_at'] ) ) ) . '</p>';
		} else {
			$values = array();
			foreach ( $orders as $month => $count ) {
				$values[ (string) $month ] = array( __( 'orders', 'wpprivsync' ) => (int) $count );
			}
			/* translators: %s: date and time. */
			echo '<p class="description">' . esc_html( sprintf( __( 'Counted %s. Each order is anonymised when its retention ends (the policy\'s tax rule).', 'wpprivsync' ), Wpprivsync_Admin_Tabs::when( (string) $schedule['orders_at'] ) ) ) . '</p>';
			echo Wpprivsync_Charts::grouped_bars( 'wpprivsync-schedule-orders', __( 'Orders whose retention ends, by month', 'wpprivsync' ), array_map( 'strval', array_keys( $orders ) ), array( __( 'orders', 'wpprivsync' ) ), $values ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- the chart escapes every value.
		}

		echo '<h3>' . esc_html__( 'WebinarJam deletions due', 'wpprivsync' ) . '</h3>';
		$webinars = isset( $schedule['webinarjam'] ) && is_array( $schedule['webinarjam'] ) ? $schedule['webinarjam'] : array();
		echo '<div class="wpprivsync-scroll" id="wpprivsync-schedule-webinarjam">';
		if ( ! $webinars ) {
			echo '<p class="wpprivsync-empty">' . esc_html__( 'No WebinarJam deletion is due.', 'wpprivsync' ) . '</p>';
		} else {
			echo '<table class="widefat striped"><thead><tr><th scope="col">' . esc_html__( 'Task', 'wpprivsync' ) . '</th><th scope="col">' . esc_html__( 'What to do', 'wpprivsync' ) . '</th><th scope="col">' . esc_html__( 'Due', 'wpprivsync' ) . '</th></tr></thead><tbody>';
			foreach ( $webinars as $task ) {
				$late = ! empty( $task['overdue'] );
				echo '<tr class="wpprivsync-schedule-task' . ( $late ? ' wpprivsync-overdue' : '' ) . '" data-task-id="' . esc_attr( (string) (int) ( $task['id'] ?? 0 ) ) . '"><td>' . esc_html( (string) (int) ( $task['id'] ?? 0 ) ) . '</td><td>' . esc_html( (string) ( $task['what'] ?? '' ) ) . '</td><td>' . esc_html( Wpprivsync_Admin_Tabs::when( (string) ( $task['due_at'] ?? '' ) ) . ( $late ? ' — ' . __( 'overdue', 'wpprivsync' ) : '' ) ) . '</td></tr>';
			}
			echo '</tbody></table>';
		}
		echo '</div>';
	}
}
