<?php
/**
 * Order retention: an order is kept until the end of the tax year of its creation + N years.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The retention rule and its hooks into WooCommerce's order eraser.
 */
class Wpprivsync_Retention {

	const DEFAULT_ORDER_YEARS    = 5;
	const DEFAULT_TAX_YEAR_START = 1;
	const WC_ORDER_ERASER        = 'woocommerce-customer-orders';

	/**
	 * Orders the filter kept during the current eraser call: order number => [id, until].
	 *
	 * @var array<string,array>
	 */
	private static $retained = array();

	/**
	 * Every order kept in this request: [kind, id, until].
	 *
	 * @var array[]
	 */
	private static $log = array();

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		add_filter( 'woocommerce_privacy_erase_order_personal_data', array( __CLASS__, 'filter_erase_order' ), 20, 2 );
		add_filter( 'wp_privacy_personal_data_erasers', array( __CLASS__, 'wrap_order_eraser' ), PHP_INT_MAX );
	}

	/**
	 * The rule in force.
	 *
	 * @return array{order_years:int,tax_year_start_month:int}
	 */
	public static function rule() {
		$stored = get_option( Wpprivsync_Plugin::OPTION_RETENTION );
		$stored = is_array( $stored ) ? $stored : array();
		return array(
			'order_years'          => isset( $stored['order_years'] ) ? (int) $stored['order_years'] : self::DEFAULT_ORDER_YEARS,
			'tax_year_start_month' => isset( $stored['tax_year_start_month'] ) ? (int) $stored['tax_year_start_month'] : self::DEFAULT_TAX_YEAR_START,
		);
	}

	/**
	 * Stores the rule.
	 *
	 * @param int $order_years          Years after the end of the tax year.
	 * @param int $tax_year_start_month 1..12.
	 * @return array The rule.
	 */
	public static function set_rule( $order_years, $tax_year_start_month ) {
		update_option(
			Wpprivsync_Plugin::OPTION_RETENTION,
			array(
				'order_years'          => (int) $order_years,
				'tax_year_start_month' => (int) $tax_year_start_month,
			),
			false
		);
		return self::rule();
	}

	/**
	 * Last day an order created on $created is kept (Y-m-d).
	 *
	 * @param DateTimeInterface $created Creation date.
	 * @param array|null        $rule    Rule (default: the stored one).
	 * @return string
	 */
	public static function retained_until( DateTimeInterface $created, $rule = null ) {
		$rule  = $rule ?? self::rule();
		$start = max( 1, min( 12, (int) $rule['tax_year_start_month'] ) );
		$year  = (int) $created->format( 'Y' );
		$month = (int) $created->format( 'n' );
		// The tax year containing $created ends the day before the next start month.
		$end_year = ( 1 === $start || $month >= $start ) ? $year + ( 1 === $start ? 0 : 1 ) : $year;
		$next     = new DateTimeImmutable( sprintf( '%04d-%02d-01', 1 === $start ? $end_year + 1 : $end_year, $start ), new DateTimeZone( 'UTC' ) );
		$end      = $next->modify( '-1 day' )->modify( '+' . (int) $rule['order_years'] . ' years' );
		// Feb 29 + N years lands on Mar 1: the last day of February is meant.
		if ( 2 === (int) $next->modify( '-1 day' )->format( 'n' ) && 3 === (int) $end->format( 'n' ) ) {
			$end = $end->modify( 'last day of previous month' );
		}
		return $end->format( 'Y-m-d' );
	}

	/**
	 * Retention end of an order, or null when it has no creation date.
	 *
	 * @param WC_Order $order Order.
	 * @return string|null
	 */
	public static function order_until( $order ) {
		$created = $order->get_date_created();
		return $created ? self::retained_until( $created ) : null;
	}

	/**
	 * The woocommerce_privacy_erase_order_personal_data filter: keep orders under retention.
	 *
	 * @param bool     $erase Whether WooCommerce would anonymise the order.
	 * @param WC_Order $order Order.
	 * @return bool
	 */
	public static function filter_erase_order( $erase, $order ) {
		if ( ! is_object( $order ) || ! is_callable( array( $order, 'get_date_created' ) ) ) {
			return $erase;
		}
		$until = self::order_until( $order );
		if ( null === $until ) {
			return $erase;
		}
		if ( gmdate( 'Y-m-d' ) <= $until ) {
			self::$retained[ (string) $order->get_order_number() ] = array( (int) $order->get_id(), $until );
			self::$log[] = array(
				'kind'  => 'order',
				'id'    => (int) $order->get_id(),
				'until' => $until,
			);
			return false;
		}
		// Retention is over and the person asked for erasure.
		return true;
	}

	/**
	 * Wraps WooCommerce's order eraser so its "retained" messages carry the retention end.
	 *
	 * @param array $erasers Registered erasers.
	 * @return array
	 */
	public static function wrap_order_eraser( $erasers ) {
		if ( ! is_array( $erasers ) || empty( $erasers[ self::WC_ORDER_ERASER ]['callback'] ) ) {
			return $erasers;
		}
		$inner = $erasers[ self::WC_ORDER_ERASER ]['callback'];
		if ( is_array( $inner ) && isset( $inner[0] ) && __CLASS__ === $inner[0] ) {
			return $erasers;
		}
		$erasers[ self::WC_ORDER_ERASER ]['callback'] = static function ( $email, $page = 1 ) use ( $inner ) {
			self::$retained = array();
			$response       = call_user_func( $inner, $email, $page );
			return self::annotate( $response );
		};
		return $erasers;
	}

	/**
	 * Rewrites WooCommerce's "retained" message of every order kept by this plugin.
	 *
	 * @param array $response Eraser response.
	 * @return array
	 */
	private static function annotate( $response ) {
		if ( ! is_array( $response ) || empty( self::$retained ) ) {
			return $response;
		}
		$messages = isset( $response['messages'] ) && is_array( $response['messages'] ) ? $response['messages'] : array();
		foreach ( self::$retained as $number => $kept ) {
			// WooCommerce's own message (in its own text domain), matched to be replaced.
			$original = sprintf( translate( 'Personal data within order %s has been retained.', 'woocommerce' ), $number ); // phpcs:ignore WordPress.WP.I18n
			$ours     = sprintf(
				/* translators: 1: order number, 2: date (YYYY-MM-DD). */
				__( 'Personal data within order %1$s has been retained until %2$s (invoice retention).', 'wpprivsync' ),
				$number,
				$kept[1]
			);
			$index = array_search( $original, $messages, true );
			if ( false === $index ) {
				$messages[] = $ours;
			} else {
				$messages[ $index ] = $ours;
			}
		}
		$response['messages']       = array_values( $messages );
		$response['items_retained'] = true;
		self::$retained             = array();
		return $response;
	}

	/**
	 * Starts a fresh log of what is retained (one erasure).
	 */
	public static function start_log() {
		self::$log = array();
	}

	/**
	 * What was retained since start_log().
	 *
	 * @return array[]
	 */
	public static function log() {
		return self::$log;
	}
}
