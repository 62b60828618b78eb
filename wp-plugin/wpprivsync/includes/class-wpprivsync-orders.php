<?php
/**
 * WooCommerce orders: listing for the retention sweep and anonymising with WooCommerce's own code.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Order queries and anonymisation.
 */
class Wpprivsync_Orders {

	/**
	 * Ids of orders (any status) whose billing email or customer matches.
	 *
	 * @param string $email Email.
	 * @return int[]
	 */
	public static function find_ids_by_email( $email ) {
		$customer = array( $email );
		$user     = get_user_by( 'email', $email );
		if ( $user ) {
			$customer[] = (int) $user->ID;
		}
		return array_map(
			'intval',
			wc_get_orders(
				array(
					'customer' => $customer,
					'limit'    => -1,
					'return'   => 'ids',
					'type'     => 'shop_order',
				)
			)
		);
	}

	/**
	 * A page of orders not yet anonymised, filtered by billing email and/or creation date.
	 *
	 * @param string|null $email    Billing email.
	 * @param string|null $before   Y-m-d: created before this day.
	 * @param int         $page     1-based.
	 * @param int         $per_page Page size.
	 * @return array{orders:array[],page:int,total:int}
	 */
	public static function find( $email, $before, $page, $per_page ) {
		$query = array(
			'type'       => 'shop_order',
			'status'     => array_keys( wc_get_order_statuses() ),
			'anonymized' => false,
			'limit'      => $per_page,
			'page'       => $page,
			'paginate'   => true,
			'orderby'    => 'ID',
			'order'      => 'ASC',
		);
		if ( $email ) {
			$query['billing_email'] = $email;
		}
		if ( $before ) {
			$query['date_created'] = '<' . strtotime( $before . ' 00:00:00 UTC' );
		}
		$result = wc_get_orders( $query );
		$orders = array();
		foreach ( $result->orders as $order ) {
			$created  = $order->get_date_created();
			$orders[] = array(
				'id'             => (int) $order->get_id(),
				'created'        => $created ? $created->date( 'Y-m-d' ) : null,
				'status'         => (string) $order->get_status(),
				'retained_until' => Wpprivsync_Retention::order_until( $order ),
			);
		}
		return array(
			'orders' => $orders,
			'page'   => (int) $page,
			'total'  => (int) $result->total,
		);
	}

	/**
	 * Anonymises orders with WC_Privacy_Erasers::remove_order_personal_data.
	 *
	 * @param int[] $ids Order ids.
	 * @return array{anonymized:int[],skipped:array[]}
	 */
	public static function anonymize( array $ids ) {
		if ( ! class_exists( 'WC_Privacy_Erasers' ) ) {
			include_once WC_ABSPATH . 'includes/class-wc-privacy-erasers.php';
		}
		$done    = array();
		$skipped = array();
		foreach ( array_unique( array_map( 'intval', $ids ) ) as $id ) {
			$order = wc_get_order( $id );
			if ( ! $order || ! is_a( $order, 'WC_Order' ) || 'shop_order_refund' === $order->get_type() ) {
				$skipped[] = array(
					'id'     => $id,
					'reason' => 'not_found',
				);
				continue;
			}
			if ( 'yes' === $order->get_meta( '_anonymized' ) ) {
				$skipped[] = array(
					'id'     => $id,
					'reason' => 'already_anonymized',
				);
				continue;
			}
			Wpprivsync_Outbox::muted(
				static function () use ( $order ) {
					WC_Privacy_Erasers::remove_order_personal_data( $order );
				}
			);
			$done[] = $id;
		}
		return array(
			'anonymized' => $done,
			'skipped'    => $skipped,
		);
	}
}
