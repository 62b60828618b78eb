<?php
/**
 * Core's comment exporter paged by comment id instead of by page number, for the plugin's
 * export route (POST wpprivsync/v1/export).
 *
 * Core's exporter reads a person's comments with get_comments() 500 at a time, page N being
 * `LIMIT 500 OFFSET 500 * (N - 1)`: every page sorts and skips all the comments before it, so
 * an export of N comments costs O(N^2). This one runs core's own exporter function, always for
 * its first page, with the query narrowed to the comments after the last one sent
 * (`comment_ID > after`, still ordered by comment_ID and bounded at 500; on older WordPress
 * versions (6.1 among them), whose exporter's query falls back to the date order, after the
 * last one's (comment_date_gmt, comment_ID)): each page is a page's work, and the items are core's own
 * (same group, labels, item ids, fields and values, in core's order, every filter on the query
 * and the text applied), because core builds them.
 *
 * How the narrowing finds core's query: during the call, the first comment query whose
 * author_email is the person's is core's (its exporter queries before it builds any item).
 * On that query object only, `pre_get_comments` adds the last id sent to comment__not_in
 * (harmless, that comment is already sent; it makes the id part of the comment-queries cache
 * key, which otherwise ignores what comments_clauses adds) and `comments_clauses` adds the
 * narrowing. Comment queries of anything else (the links' page numbers, other
 * plugins) are untouched.
 *
 * Core's Tools → Export Personal Data keeps core's exporter: it asks for page N in a browser
 * request of its own, with no cursor to carry the last id between requests (docs/PROTOCOL.md,
 * "Export").
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Keyset pages of core's comment exporter.
 */
class Wpprivsync_Comment_Exporter {

	/** Core's exporter id in wp_privacy_personal_data_exporters. */
	const CORE_ID = 'wordpress-comments';
	/** Core's exporter function; replaced only while it is the registered callback. */
	const CORE_CALLBACK = 'wp_comments_personal_data_exporter';

	/**
	 * Whether the route pages this exporter entry by keyset: core's comment exporter, as core
	 * registers it (a plugin that replaced or wrapped it keeps its own).
	 *
	 * @param string $key      Exporter id.
	 * @param array  $exporter Exporter entry.
	 * @return bool
	 */
	public static function replaces( $key, array $exporter ) {
		return self::CORE_ID === (string) $key && isset( $exporter['callback'] ) && self::CORE_CALLBACK === $exporter['callback'] && function_exists( self::CORE_CALLBACK );
	}

	/**
	 * One page of the person's comments after the last one sent, as core's exporter answers a
	 * page, plus `after`: the id of the page's last comment, to continue from.
	 *
	 * "After" follows core's own order, read from its query: by comment_ID (current versions),
	 * or on older ones (6.1 among them), whose exporter asks for an order WP_Comment_Query does
	 * not know and so gets its default, by comment_date_gmt then comment_ID (the id breaks the
	 * ties, which core leaves open).
	 *
	 * @param string $email Email.
	 * @param int    $after Id of the last comment sent (0 for the first page).
	 * @return array|WP_Error {data, done, after}
	 */
	public static function page( $email, $after ) {
		global $wpdb;

		$after = max( 0, (int) $after );
		$since = null; // The last comment's comment_date_gmt (for the date order).
		if ( $after > 0 ) {
			$since = $wpdb->get_var( $wpdb->prepare( "SELECT comment_date_gmt FROM {$wpdb->comments} WHERE comment_ID = %d", $after ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery -- one row by its key, the position of an export in progress
		}
		$state = array(
			'query' => null, // Core's query, once found.
			'order' => null, // How it orders: 'id', 'date', or null (not an order this pages).
		);
		$pre   = static function ( $q ) use ( $email, $after, &$state ) {
			if ( null === $state['query'] && $q instanceof WP_Comment_Query && isset( $q->query_vars['author_email'] ) && $email === $q->query_vars['author_email'] ) {
				$state['query'] = $q;
				$state['order'] = self::order_of( $q->query_vars );
				if ( $after > 0 ) {
					$not_in   = wp_parse_id_list( $q->query_vars['comment__not_in'] ?? array() );
					$not_in[] = $after;

					$q->query_vars['comment__not_in'] = $not_in;
				}
			}
		};

		$clauses = static function ( $pieces, $q ) use ( $after, $since, &$state, $wpdb ) {
			if ( null === $state['query'] || $q !== $state['query'] || null === $state['order'] ) {
				return $pieces;
			}
			if ( 'date' === $state['order'] ) {
				$pieces['orderby'] = "{$wpdb->comments}.comment_date_gmt ASC, {$wpdb->comments}.comment_ID ASC";
			}
			if ( $after <= 0 ) {
				return $pieces;
			}
			if ( 'id' === $state['order'] ) {
				$cond = $wpdb->prepare( "{$wpdb->comments}.comment_ID > %d", $after );
			} elseif ( null === $since ) {
				$cond = '1 = 0'; // The last comment sent is gone: the position is lost (refused below).
			} else {
				$cond = $wpdb->prepare( "( {$wpdb->comments}.comment_date_gmt > %s OR ( {$wpdb->comments}.comment_date_gmt = %s AND {$wpdb->comments}.comment_ID > %d ) )", $since, $since, $after );
			}
			$where           = trim( (string) ( $pieces['where'] ?? '' ) );
			$pieces['where'] = ( '' === $where ? '' : $where . ' AND ' ) . $cond;
			return $pieces;
		};
		add_action( 'pre_get_comments', $pre, 10, 1 );
		add_filter( 'comments_clauses', $clauses, PHP_INT_MAX, 2 );
		try {
			$response = call_user_func( self::CORE_CALLBACK, $email, 1 );
		} finally {
			remove_action( 'pre_get_comments', $pre, 10 );
			remove_filter( 'comments_clauses', $clauses, PHP_INT_MAX );
		}
		$data  = is_array( $response ) ? array_values( (array) ( $response['data'] ?? array() ) ) : array();
		$query = $state['query'];
		if ( null === $query ) {
			if ( $data ) {
				return self::error( __( 'Core\'s comment exporter answered without its comment query; the export cannot page it by comment id.', 'wpprivsync' ) );
			}
			return array(
				'data'  => array(),
				'done'  => true,
				'after' => $after,
			);
		}
		if ( null === $state['order'] ) {
			return self::error( __( 'Core\'s comment query is ordered in a way the export cannot page by position (a plugin changed it).', 'wpprivsync' ) );
		}
		if ( 'date' === $state['order'] && $after > 0 && null === $since ) {
			return new WP_Error( 'wpprivsync_export_position_lost', __( 'The last comment the export sent was deleted meanwhile, so its position is lost; start the export again.', 'wpprivsync' ), array( 'status' => 409 ) );
		}
		$last = array( (string) $since, $after );
		foreach ( (array) $query->comments as $comment ) {
			$comment = get_comment( $comment );
			if ( ! $comment ) {
				continue;
			}
			$here = array( 'date' === $state['order'] ? (string) $comment->comment_date_gmt : '', (int) $comment->comment_ID );
			if ( $after > 0 && ( 'id' === $state['order'] ? $here[1] <= $after : $here <= $last ) ) {
				// A plugin answered the query itself (comments_pre_query) and ignored the narrowing.
				return self::error( __( 'The comment query ignored the export\'s position; the export cannot page core\'s comment exporter by comment id.', 'wpprivsync' ) );
			}
			$last = $here;
		}
		return array(
			'data'  => $data,
			// No progress means nothing after: a page without comments ends the exporter.
			'done'  => ! is_array( $response ) || ! empty( $response['done'] ) || $last[1] === $after,
			'after' => $last[1],
		);
	}

	/**
	 * How a comment query's vars order it, if it is an order this pages by: 'id' (comment_ID
	 * ascending), 'date' (WP_Comment_Query's default: comment_date_gmt ascending), else null.
	 *
	 * @param array $vars Query vars.
	 * @return string|null
	 */
	private static function order_of( array $vars ) {
		if ( 'ASC' !== strtoupper( (string) ( $vars['order'] ?? '' ) ) ) {
			return null;
		}
		$orderby = $vars['orderby'] ?? '';
		if ( 'comment_ID' === $orderby ) {
			return 'id';
		}
		return in_array( $orderby, array( '', 'comment_date_gmt' ), true ) ? 'date' : null;
	}

	/**
	 * The error of an export that cannot go on by keyset.
	 *
	 * @param string $message Message.
	 * @return WP_Error
	 */
	private static function error( $message ) {
		return new WP_Error( 'wpprivsync_export_keyset', $message, array( 'status' => 500 ) );
	}
}
