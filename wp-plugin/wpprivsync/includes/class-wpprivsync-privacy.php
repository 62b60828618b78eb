<?php
/**
 * WordPress's privacy framework: wpprivsync's own eraser, and running every eraser or exporter
 * for an email on the server (core only does it one AJAX page at a time from a browser).
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Erasure, export and comment removal.
 */
class Wpprivsync_Privacy {

	const ERASER_ID        = 'wpprivsync';
	const EXPORT_PAGE_SIZE = 500;
	/** A runaway eraser/exporter that never says done stops here. */
	const MAX_PAGES = 1000;

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		add_filter( 'wp_privacy_personal_data_erasers', array( __CLASS__, 'register_eraser' ) );
	}

	/**
	 * Registers wpprivsync's eraser, so Tools → Erase Personal Data also reaches the daemon.
	 *
	 * @param array $erasers Erasers.
	 * @return array
	 */
	public static function register_eraser( $erasers ) {
		$erasers[ self::ERASER_ID ] = array(
			'eraser_friendly_name' => __( 'Privacy Sync (ActiveCampaign and other systems)', 'wpprivsync' ),
			'callback'             => array( __CLASS__, 'eraser' ),
		);
		return $erasers;
	}

	/**
	 * The wpprivsync eraser: records erasure.requested for the daemon, once per request.
	 *
	 * @param string $email Email.
	 * @param int    $page  Page.
	 * @return array
	 */
	public static function eraser( $email, $page = 1 ) {
		$request_id = self::current_request_id( $email );
		$id         = Wpprivsync_Outbox::record(
			'erasure.requested',
			array(
				'email'      => Wpprivsync_Plugin::normalise_email( $email ),
				'request_id' => $request_id,
				'source'     => 'privacy-tools',
			),
			$request_id > 0 ? 'erasure.requested:' . $request_id : null
		);
		$messages   = array();
		if ( $id > 0 ) {
			$messages[] = __( 'Erasure in the other systems (ActiveCampaign) was handed to the wpprivsync daemon: they are pending, and this request shows Completed when the daemon reports every system done. The account is deleted too (never an editor\'s or administrator\'s).', 'wpprivsync' );
		}
		return array(
			'items_removed'  => false,
			'items_retained' => false,
			'messages'       => $messages,
			'done'           => true,
		);
	}

	/**
	 * The user_request being processed by core's AJAX eraser, else the newest open one for the email.
	 *
	 * @param string $email Email.
	 * @return int
	 */
	private static function current_request_id( $email ) {
		// phpcs:ignore WordPress.Security.NonceVerification.Missing -- core checked the nonce of this AJAX request.
		if ( wp_doing_ajax() && isset( $_POST['id'] ) ) {
			$request = wp_get_user_request( absint( $_POST['id'] ) ); // phpcs:ignore WordPress.Security.NonceVerification.Missing
			if ( $request && 'remove_personal_data' === $request->action_name ) {
				return (int) $request->ID;
			}
		}
		$ids = get_posts(
			array(
				'post_type'      => 'user_request',
				'post_name__in'  => array( 'remove_personal_data' ),
				'title'          => Wpprivsync_Plugin::normalise_email( $email ),
				'post_status'    => array( 'request-pending', 'request-confirmed' ),
				'posts_per_page' => 1,
				'orderby'        => 'ID',
				'order'          => 'DESC',
				'fields'         => 'ids',
			)
		);
		return $ids ? (int) $ids[0] : 0;
	}

	/**
	 * Erasers known to damage other people's data in some case, as data: each entry names the
	 * eraser by its friendly name or its callback (never by its registered key, which changes
	 * with load order), the case (`no_account`: the email has no WordPress account) and the
	 * reason shown in the dry run, the erasure report and the audit. Stored in the option
	 * `wpprivsync_guarded_erasers` (set it to change the list) and filterable.
	 *
	 * @return array[] each array( name, callback, when, reason )
	 */
	public static function guarded_erasers() {
		$default = array(
			array(
				'name'     => 'Thrive Reporting',
				'callback' => 'TVE\\Reporting\\Privacy::erase',
				'when'     => 'no_account',
				'reason'   => 'Skipped: for an email without a WordPress account this eraser deletes every reporting row with no user, other people\'s rows.',
			),
		);
		$list    = get_option( 'wpprivsync_guarded_erasers', $default );
		/**
		 * Filters the guarded erasers.
		 *
		 * @param array[] $list Each array( name, callback, when, reason ).
		 */
		return array_values( array_filter( (array) apply_filters( 'wpprivsync_guarded_erasers', is_array( $list ) ? $list : $default ), 'is_array' ) );
	}

	/**
	 * The guard that stops this eraser for this email, or null.
	 *
	 * @param array $eraser      The eraser.
	 * @param bool  $has_account Whether the email has a WordPress account.
	 * @return array|null
	 */
	private static function guard_for( array $eraser, $has_account ) {
		$name     = (string) ( $eraser['eraser_friendly_name'] ?? '' );
		$callback = self::callback_name( $eraser['callback'] );
		foreach ( self::guarded_erasers() as $guard ) {
			$matches = ( ! empty( $guard['name'] ) && $guard['name'] === $name ) || ( ! empty( $guard['callback'] ) && ltrim( (string) $guard['callback'], '\\' ) === $callback );
			if ( $matches && 'no_account' === ( $guard['when'] ?? '' ) && ! $has_account ) {
				return $guard;
			}
		}
		return null;
	}

	/**
	 * A callback as "Class::method" or "function" (closures: "closure").
	 *
	 * @param mixed $callback Callback.
	 * @return string
	 */
	private static function callback_name( $callback ) {
		if ( is_string( $callback ) ) {
			return ltrim( $callback, '\\' );
		}
		if ( is_array( $callback ) && 2 === count( $callback ) ) {
			$class = is_object( $callback[0] ) ? get_class( $callback[0] ) : (string) $callback[0];
			return ltrim( $class, '\\' ) . '::' . $callback[1];
		}
		return 'closure';
	}

	/**
	 * A stable id for a registered eraser: its own key, unless that is a number (Thrive's
	 * plugins register theirs as 0, 1, 2, ... in load order), then its friendly name as a slug.
	 *
	 * @param int|string $key    The key it was registered under.
	 * @param array      $eraser The eraser.
	 * @return string
	 */
	public static function stable_id( $key, array $eraser ) {
		if ( is_int( $key ) || ctype_digit( (string) $key ) ) {
			$name = (string) ( $eraser['eraser_friendly_name'] ?? ( $eraser['exporter_friendly_name'] ?? '' ) );
			$slug = sanitize_title( $name );
			return '' !== $slug ? $slug : 'eraser-' . $key;
		}
		return (string) $key;
	}

	/**
	 * Every eraser except ours and the excluded ones, by stable id.
	 *
	 * @param string[] $exclude Eraser ids (stable ids; registered keys are accepted too).
	 * @param string   $email   When given, guarded erasers (guarded_erasers()) are left out in
	 *                          the case that harms others; they are listed in $skipped.
	 * @param array    $skipped Filled with id => array( name, reason ) of erasers left out.
	 * @return array id => eraser
	 */
	public static function erasers( array $exclude = array(), $email = '', &$skipped = array() ) {
		$all         = apply_filters( 'wp_privacy_personal_data_erasers', array() ); // phpcs:ignore WordPress.NamingConventions.PrefixAllGlobals.NonPrefixedHooknameFound -- core's filter, read as core reads it.
		$out         = array();
		$has_account = '' === $email || (bool) get_user_by( 'email', $email );
		foreach ( (array) $all as $key => $eraser ) {
			if ( self::ERASER_ID === $key || ! is_array( $eraser ) || empty( $eraser['callback'] ) || ! is_callable( $eraser['callback'] ) ) {
				continue;
			}
			$id = self::stable_id( $key, $eraser );
			if ( in_array( $id, $exclude, true ) || in_array( (string) $key, $exclude, true ) ) {
				continue;
			}
			$guard = self::guard_for( $eraser, $has_account );
			if ( null !== $guard ) {
				$skipped[ $id ] = array(
					'name'   => (string) ( $eraser['eraser_friendly_name'] ?? $id ),
					'reason' => (string) ( $guard['reason'] ?? 'guarded' ),
				);
				continue;
			}
			while ( isset( $out[ $id ] ) ) {
				$id .= '-2';
			}
			$out[ $id ] = $eraser;
		}
		return $out;
	}

	/**
	 * Report entries for erasers left out because the email has no account.
	 *
	 * @param array $skipped id => array( name, reason ), from erasers().
	 * @return array
	 */
	private static function skipped_entries( array $skipped ) {
		$entries = array();
		foreach ( $skipped as $id => $info ) {
			$entries[] = array(
				'id'             => (string) $id,
				'name'           => $info['name'],
				'items_removed'  => false,
				'items_retained' => false,
				'pages'          => 0,
				'skipped'        => true,
				'messages'       => array( $info['reason'] ),
			);
		}
		return $entries;
	}

	/**
	 * Runs every eraser for an email, page by page; records nothing (the daemon asked).
	 *
	 * @param string   $email   Email (normalised).
	 * @param bool     $dry_run Change nothing, report what would be touched.
	 * @param string[] $exclude Eraser ids to skip.
	 * @param bool     $delete_account Also delete the account with this email (not editors or admins).
	 * @return array|WP_Error
	 */
	public static function erase( $email, $dry_run, array $exclude, $delete_account = true ) {
		return Wpprivsync_Outbox::muted(
			static function () use ( $email, $dry_run, $exclude, $delete_account ) {
				if ( $dry_run ) {
					$report            = self::erase_dry_run( $email, $exclude );
					$report['account'] = self::account_plan( $email, $delete_account );
					return $report;
				}
				$report = self::erase_for_real( $email, $exclude );
				if ( ! is_wp_error( $report ) ) {
					$report['account']       = self::delete_account( $email, $delete_account );
					$report['items_removed'] = $report['items_removed'] || $report['account']['deleted'];
				}
				return $report;
			}
		);
	}

	/**
	 * What would happen to the account with this email.
	 *
	 * @param string $email          Email.
	 * @param bool   $delete_account Whether deletion was asked for.
	 * @return array
	 */
	private static function account_plan( $email, $delete_account ) {
		$user = get_user_by( 'email', $email );
		if ( ! $user ) {
			return array(
				'user_id' => 0,
				'deleted' => false,
				'reason'  => 'no account',
			);
		}
		$refusal = self::refusal( $user, $delete_account );
		return array(
			'user_id'      => (int) $user->ID,
			'deleted'      => false,
			'would_delete' => null === $refusal,
			'reason'       => $refusal ?? 'account would be deleted',
		);
	}

	/**
	 * Why an account must not be deleted automatically, or null when it may.
	 *
	 * @param WP_User $user           The account.
	 * @param bool    $delete_account Whether deletion was asked for.
	 * @return string|null
	 */
	private static function refusal( WP_User $user, $delete_account ) {
		if ( ! $delete_account ) {
			return 'account deletion not asked for';
		}
		// People who write or run the site are never deleted by a privacy request: their posts
		// would go with them. An administrator deletes such an account by hand.
		if ( self::can_run_any_site( $user ) ) {
			return 'account kept: it has an editorial or administrative role (delete it by hand)';
		}
		return null;
	}

	/**
	 * Whether the user writes or runs any site: user_can() answers for the current site only,
	 * while wpmu_delete_user() deletes the account, and its posts, on every site of the network.
	 *
	 * @param WP_User $user The account.
	 * @return bool
	 */
	public static function can_run_any_site( WP_User $user ) {
		$caps = array( 'edit_posts', 'manage_options', Wpprivsync_Plugin::CAPABILITY );
		if ( ! is_multisite() ) {
			foreach ( $caps as $cap ) {
				if ( user_can( $user, $cap ) ) {
					return true;
				}
			}
			return false;
		}
		if ( is_super_admin( $user->ID ) ) {
			return true;
		}
		foreach ( array_keys( get_blogs_of_user( $user->ID, true ) ) as $blog_id ) {
			switch_to_blog( (int) $blog_id );
			try {
				$member = new WP_User( $user->ID );
				foreach ( $caps as $cap ) {
					if ( $member->has_cap( $cap ) ) {
						return true;
					}
				}
			} finally {
				restore_current_blog();
			}
		}
		return false;
	}

	/**
	 * Deletes the account with this email after the erasers ran (core's erasers leave accounts
	 * alone). Muted: the deletion records no account.deleted event, since the daemon asked.
	 *
	 * @param string $email          Email.
	 * @param bool   $delete_account Whether deletion was asked for.
	 * @return array
	 */
	private static function delete_account( $email, $delete_account ) {
		$user = get_user_by( 'email', $email );
		if ( ! $user ) {
			return array(
				'user_id' => 0,
				'deleted' => false,
				'reason'  => 'no account',
			);
		}
		$refusal = self::refusal( $user, $delete_account );
		if ( null !== $refusal ) {
			return array(
				'user_id' => (int) $user->ID,
				'deleted' => false,
				'reason'  => $refusal,
			);
		}
		require_once ABSPATH . 'wp-admin/includes/user.php';
		if ( is_multisite() ) {
			require_once ABSPATH . 'wp-admin/includes/ms.php'; // wpmu_delete_user() lives there, outside wp-admin.
		}
		$deleted = is_multisite() ? wpmu_delete_user( $user->ID ) : wp_delete_user( $user->ID );
		return array(
			'user_id' => (int) $user->ID,
			'deleted' => (bool) $deleted,
			'reason'  => $deleted ? 'account deleted' : 'deletion failed',
		);
	}

	/**
	 * Deletes the account with this email, with the same refusals as every erasure (used after
	 * core's own Tools → Erase Personal Data).
	 *
	 * @param string $email Email.
	 * @return array
	 */
	public static function delete_account_of( $email ) {
		return self::delete_account( $email, true );
	}

	/**
	 * The dry run: lists erasers and counts what the plugin can count.
	 *
	 * @param string   $email   Email.
	 * @param string[] $exclude Eraser ids to skip.
	 * @return array
	 */
	private static function erase_dry_run( $email, array $exclude ) {
		global $wpdb;
		$report  = array();
		$skipped = array();
		foreach ( self::erasers( $exclude, $email, $skipped ) as $id => $eraser ) {
			$report[] = array(
				'id'             => (string) $id,
				'name'           => (string) ( $eraser['eraser_friendly_name'] ?? $id ),
				'items_removed'  => false,
				'items_retained' => false,
				'pages'          => 0,
				'messages'       => array(),
			);
		}
		$report   = array_merge( $report, self::skipped_entries( $skipped ) );
		$would    = array(
			'users'    => get_user_by( 'email', $email ) ? 1 : 0,
			'comments' => (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$wpdb->comments} WHERE comment_author_email = %s", $email ) ),
		);
		$retained = array();
		if ( Wpprivsync_Plugin::woocommerce_active() ) {
			$orders          = Wpprivsync_Orders::find_ids_by_email( $email );
			$would['orders'] = count( $orders );
			foreach ( $orders as $order_id ) {
				$order = wc_get_order( $order_id );
				$until = $order ? Wpprivsync_Retention::order_until( $order ) : null;
				if ( $until && gmdate( 'Y-m-d' ) <= $until ) {
					$retained[] = array(
						'kind'  => 'order',
						'id'    => (int) $order_id,
						'until' => $until,
					);
				}
			}
		}
		return array(
			'email_hash'     => Wpprivsync_Plugin::email_hash( $email ),
			'request_id'     => 0,
			'dry_run'        => true,
			'items_removed'  => false,
			'items_retained' => false,
			'erasers'        => $report,
			'would_touch'    => $would,
			'retained'       => $retained,
		);
	}

	/**
	 * The real erasure, as a completed user_request.
	 *
	 * @param string   $email   Email.
	 * @param string[] $exclude Eraser ids to skip.
	 * @return array|WP_Error
	 */
	private static function erase_for_real( $email, array $exclude ) {
		require_once ABSPATH . 'wp-admin/includes/privacy-tools.php';
		$request_id = self::open_request( $email );
		if ( is_wp_error( $request_id ) ) {
			return $request_id;
		}
		Wpprivsync_Retention::start_log();
		$report       = array();
		$any_removed  = false;
		$any_retained = false;
		$skipped      = array();
		$comments     = self::comments_by_policy( $email );
		if ( null !== $comments ) {
			$report[]    = $comments;
			$any_removed = $comments['items_removed'];
		}
		foreach ( self::erasers( $exclude, $email, $skipped ) as $id => $eraser ) {
			$entry = array(
				'id'             => (string) $id,
				'name'           => (string) ( $eraser['eraser_friendly_name'] ?? $id ),
				'items_removed'  => false,
				'items_retained' => false,
				'pages'          => 0,
				'messages'       => array(),
			);
			for ( $page = 1; $page <= self::MAX_PAGES; $page++ ) {
				$response = call_user_func( $eraser['callback'], $email, $page );
				++$entry['pages'];
				if ( ! is_array( $response ) ) {
					$entry['messages'][] = __( 'This eraser did not answer as WordPress expects.', 'wpprivsync' );
					$entry['error']      = 'invalid_response';
					break;
				}
				$entry['items_removed']  = $entry['items_removed'] || ! empty( $response['items_removed'] );
				$entry['items_retained'] = $entry['items_retained'] || ! empty( $response['items_retained'] );
				foreach ( (array) ( $response['messages'] ?? array() ) as $message ) {
					$entry['messages'][] = wp_strip_all_tags( (string) $message );
				}
				if ( ! empty( $response['done'] ) ) {
					break;
				}
			}
			$any_removed  = $any_removed || $entry['items_removed'];
			$any_retained = $any_retained || $entry['items_retained'];
			$report[]     = $entry;
		}
		$report   = array_merge( $report, self::skipped_entries( $skipped ) );
		$messages = array();
		foreach ( $report as $entry ) {
			foreach ( $entry['messages'] as $message ) {
				$messages[] = $message;
			}
		}
		if ( $messages ) {
			// Kept on the request (core keeps none): what each eraser said, e.g. retention dates.
			update_post_meta( $request_id, '_wpprivsync_erasure_messages', $messages );
		}
		_wp_privacy_completed_request( $request_id );
		/** This action is documented in wp-admin/includes/privacy-tools.php */
		do_action( 'wp_privacy_personal_data_erased', $request_id ); // phpcs:ignore WordPress.NamingConventions.PrefixAllGlobals.NonPrefixedHooknameFound -- core's action, fired where core fires it.

		return array(
			'email_hash'     => Wpprivsync_Plugin::email_hash( $email ),
			'request_id'     => (int) $request_id,
			'dry_run'        => false,
			'items_removed'  => $any_removed,
			'items_retained' => $any_retained,
			'erasers'        => $report,
			'retained'       => Wpprivsync_Retention::log(),
		);
	}

	/**
	 * What an erasure does to the person's comments: the policy's `comments` rule, sent by the
	 * daemon with its heartbeat; "delete" (the default, as the site's policy says) or "anonymise"
	 * (core's comment eraser blanks the author and keeps the text).
	 *
	 * @return string
	 */
	public static function comments_rule() {
		$beat = get_option( Wpprivsync_Plugin::OPTION_HEARTBEAT );
		$rule = is_array( $beat ) && isset( $beat['policy']['comments_on_erasure'] ) ? (string) $beat['policy']['comments_on_erasure'] : 'delete';
		return in_array( $rule, array( 'delete', 'anonymise' ), true ) ? $rule : 'delete';
	}

	/**
	 * With the "delete" rule, deletes the person's comments with all their meta before the
	 * other erasers run (core's would only anonymise them); with "anonymise", remembers how many
	 * comments core's eraser is about to anonymise, so a later removal request can say why it
	 * finds none. Returns the report entry, or null when the person has no comment.
	 *
	 * @param string $email Email.
	 * @return array|null
	 */
	private static function comments_by_policy( $email ) {
		$ids = self::comment_ids( $email );
		if ( ! $ids ) {
			return null;
		}
		$entry = array(
			'id'             => 'wpprivsync-comments',
			'name'           => __( 'Comments, as the privacy policy says (Privacy Sync)', 'wpprivsync' ),
			'items_removed'  => false,
			'items_retained' => false,
			'pages'          => 1,
			'messages'       => array(),
		);
		if ( 'anonymise' === self::comments_rule() ) {
			$noted = (array) get_option( 'wpprivsync_anonymised_comments', array() );
			$noted[ Wpprivsync_Plugin::email_hash( $email ) ] = array(
				'count' => count( $ids ),
				'at'    => gmdate( 'Y-m-d' ),
			);
			update_option( 'wpprivsync_anonymised_comments', $noted, false );
			$entry['messages'][] = sprintf(
				/* translators: %d: number of comments. */
				__( '%d comment(s) left to WordPress\'s comment eraser, which anonymises them (policy: comments are anonymised).', 'wpprivsync' ),
				count( $ids )
			);
			return $entry;
		}
		$removed                = self::remove_comments( $email, false );
		$entry['items_removed'] = $removed['comments_deleted'] > 0;
		$entry['comments']      = $removed['comments_deleted'];
		$entry['meta']          = $removed['meta_deleted'];
		$entry['messages'][]    = sprintf(
			/* translators: 1: number of comments, 2: number of meta rows. */
			__( '%1$d comment(s) deleted with %2$d meta row(s) (policy: comments are deleted).', 'wpprivsync' ),
			$removed['comments_deleted'],
			$removed['meta_deleted']
		);
		return $entry;
	}

	/**
	 * The person's comments: by author email in any letter case (the column's collation is
	 * case-insensitive, so the comparison keeps using its index), or by their account.
	 *
	 * @param string $email Email.
	 * @return int[]
	 */
	public static function comment_ids( $email ) {
		global $wpdb;
		$user = get_user_by( 'email', $email );
		$sql  = $user
			? $wpdb->prepare( "SELECT comment_ID FROM {$wpdb->comments} WHERE comment_author_email = %s OR user_id = %d ORDER BY comment_ID", $email, $user->ID )
			: $wpdb->prepare( "SELECT comment_ID FROM {$wpdb->comments} WHERE comment_author_email = %s ORDER BY comment_ID", $email );
		return array_map( 'intval', (array) $wpdb->get_col( $sql ) ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared -- prepared above.
	}

	/**
	 * A confirmed remove_personal_data request for the email: an open one is reused.
	 *
	 * @param string $email Email.
	 * @return int|WP_Error
	 */
	private static function open_request( $email ) {
		$request_id = wp_create_user_request( $email, 'remove_personal_data', array( 'source' => 'wpprivsync' ), 'confirmed' );
		if ( ! is_wp_error( $request_id ) ) {
			return (int) $request_id;
		}
		$open = get_posts(
			array(
				'post_type'      => 'user_request',
				'post_name__in'  => array( 'remove_personal_data' ),
				'title'          => $email,
				'post_status'    => array( 'request-pending', 'request-confirmed' ),
				'posts_per_page' => 1,
				'fields'         => 'ids',
			)
		);
		if ( ! $open ) {
			return new WP_Error( 'wpprivsync_request_failed', __( 'Could not create the erasure request.', 'wpprivsync' ), array( 'status' => 500 ) );
		}
		wp_update_post(
			array(
				'ID'          => (int) $open[0],
				'post_status' => 'request-confirmed',
			)
		);
		update_post_meta( (int) $open[0], '_wp_user_request_confirmed_timestamp', time() );
		return (int) $open[0];
	}

	/**
	 * Every exporter's data for an email, merged by group and item, a page of about
	 * EXPORT_PAGE_SIZE items at a time.
	 *
	 * The export walks the exporters once: a page runs the exporter pages that follow the
	 * previous page's cursor until it holds EXPORT_PAGE_SIZE items, and answers the cursor to
	 * go on from (`next`: position in the exporter, items of that exporter page already sent,
	 * exporter id). So each exporter page runs once, plus at most one re-run per export page
	 * when a page ends in the middle of one. The position is the exporter's page number
	 * (`2.0.id`), or for core's comment exporter the last comment id sent (`k1234.0.id`): that
	 * one is paged by comment id (Wpprivsync_Comment_Exporter), as core's own pages by OFFSET
	 * and would cost more per page the further it goes. So the export costs time linear in
	 * its items. Items that share a group and an item id are merged within a page; the daemon
	 * merges them across pages.
	 *
	 * @param string      $email  Email.
	 * @param int         $page   1-based page number (echoed back).
	 * @param string|null $cursor The previous page's `next`; null for the first page.
	 * @return array|WP_Error
	 */
	public static function export( $email, $page, $cursor = null ) {
		$keys      = array(); // Exporter ids as strings (a plugin that appends one has a number).
		$callbacks = array();
		$keyset    = array(); // Whether the exporter is paged by comment id.
		foreach ( (array) apply_filters( 'wp_privacy_personal_data_exporters', array() ) as $key => $exporter ) { // phpcs:ignore WordPress.NamingConventions.PrefixAllGlobals.NonPrefixedHooknameFound -- core's filter, read as core reads it.
			if ( is_array( $exporter ) && ! empty( $exporter['callback'] ) && is_callable( $exporter['callback'] ) ) {
				$keys[]      = (string) $key;
				$callbacks[] = $exporter['callback'];
				$keyset[]    = Wpprivsync_Comment_Exporter::replaces( (string) $key, $exporter );
			}
		}
		$index = 0;
		$total = count( $keys );
		$pos   = $total > 0 && $keyset[0] ? 0 : 1; // Page number, or last comment id sent.
		$skip  = 0;
		if ( null !== $cursor && '' !== $cursor ) {
			$parsed = self::parse_cursor( (string) $cursor, $keys, $keyset );
			if ( is_wp_error( $parsed ) ) {
				return $parsed;
			}
			list( $index, $pos, $skip ) = $parsed;
		}
		$groups = array();
		$items  = array(); // "group\0item" => [group_id, item_id, data(name => value list)].
		$taken  = 0;
		$next   = null;
		while ( $index < $total ) {
			$response = $keyset[ $index ] ? Wpprivsync_Comment_Exporter::page( $email, $pos ) : call_user_func( $callbacks[ $index ], $email, $pos );
			if ( is_wp_error( $response ) ) {
				return $response;
			}
			$data = is_array( $response ) ? array_values( (array) ( $response['data'] ?? array() ) ) : array();
			$room = self::EXPORT_PAGE_SIZE - $taken;
			$rest = array_slice( $data, $skip );
			if ( count( $rest ) > $room ) {
				self::merge_export_items( array_slice( $rest, 0, $room ), $groups, $items );
				$next = self::cursor( $keyset[ $index ], $pos, $skip + $room, $keys[ $index ] );
				break;
			}
			self::merge_export_items( $rest, $groups, $items );
			$taken += count( $rest );
			$skip   = 0;
			if ( ! is_array( $response ) || ! empty( $response['done'] ) || ( ! $keyset[ $index ] && $pos >= self::MAX_PAGES ) ) {
				++$index;
				$pos = $index < $total && $keyset[ $index ] ? 0 : 1;
			} else {
				$pos = $keyset[ $index ] ? (int) $response['after'] : $pos + 1;
			}
			if ( $taken >= self::EXPORT_PAGE_SIZE ) {
				$next = $index < $total ? self::cursor( $keyset[ $index ], $pos, 0, $keys[ $index ] ) : null;
				break;
			}
		}
		$out = array();
		foreach ( $items as $item ) {
			$group_id = $item['group_id'];
			if ( ! isset( $out[ $group_id ] ) ) {
				$out[ $group_id ] = array(
					'label'       => $groups[ $group_id ]['label'],
					'description' => $groups[ $group_id ]['description'],
					'items'       => array(),
				);
			}
			$out[ $group_id ]['items'][] = array(
				'item_id' => $item['item_id'],
				'data'    => $item['data'],
			);
		}
		return array(
			'groups' => (object) $out,
			'page'   => (int) $page,
			'next'   => $next,
			'done'   => null === $next,
		);
	}

	/**
	 * The cursor of a position in an exporter: `<page>.<skip>.<id>`, or `k<last comment id>.<skip>.<id>`
	 * for an exporter paged by comment id.
	 *
	 * @param bool   $keyset Whether the exporter is paged by comment id.
	 * @param int    $pos    Page number, or last comment id sent.
	 * @param int    $skip   Items of that exporter page already sent.
	 * @param string $key    Exporter id.
	 * @return string
	 */
	private static function cursor( $keyset, $pos, $skip, $key ) {
		return ( $keyset ? 'k' : '' ) . (int) $pos . '.' . (int) $skip . '.' . $key;
	}

	/**
	 * Reads a cursor: [exporter index, position, skip], or a 400 when it names no registered
	 * exporter or does not fit how that exporter is paged.
	 *
	 * @param string $cursor Cursor.
	 * @param array  $keys   Exporter ids.
	 * @param array  $keyset Whether each is paged by comment id.
	 * @return array|WP_Error
	 */
	private static function parse_cursor( $cursor, array $keys, array $keyset ) {
		if ( 1 !== preg_match( '/^(k?)(0|[1-9][0-9]{0,17})\.([0-9]{1,6})\.(.+)$/s', $cursor, $m ) || ! in_array( $m[4], $keys, true ) ) {
			return new WP_Error( 'wpprivsync_bad_cursor', __( 'The export cursor names no registered exporter; start the export again.', 'wpprivsync' ), array( 'status' => 400 ) );
		}
		$index = (int) array_search( $m[4], $keys, true );
		$pos   = (int) $m[2];
		$by_id = 'k' === $m[1];
		if ( $by_id !== $keyset[ $index ] || ( ! $by_id && ( $pos < 1 || $pos > 999999 ) ) ) {
			return new WP_Error( 'wpprivsync_bad_cursor', __( 'The export cursor does not fit how that exporter is paged (was the plugin updated during the export?); start the export again.', 'wpprivsync' ), array( 'status' => 400 ) );
		}
		return array( $index, $pos, (int) $m[3] );
	}

	/**
	 * Adds an exporter page's items to a page of the export, merging by group and item id.
	 *
	 * @param array $data   Items as an exporter answers them.
	 * @param array $groups Group id => label and description (added to).
	 * @param array $items  "group\0item" => item (added to).
	 */
	private static function merge_export_items( array $data, array &$groups, array &$items ) {
		foreach ( $data as $item ) {
			if ( ! is_array( $item ) || ! isset( $item['group_id'] ) ) {
				continue;
			}
			$group_id = (string) $item['group_id'];
			if ( ! isset( $groups[ $group_id ] ) ) {
				$groups[ $group_id ] = array(
					'label'       => (string) ( $item['group_label'] ?? $group_id ),
					'description' => (string) ( $item['group_description'] ?? '' ),
				);
			}
			$item_id = (string) ( $item['item_id'] ?? '' );
			$key     = $group_id . "\0" . $item_id;
			if ( ! isset( $items[ $key ] ) ) {
				$items[ $key ] = array(
					'group_id' => $group_id,
					'item_id'  => $item_id,
					'data'     => array(),
				);
			}
			foreach ( (array) ( $item['data'] ?? array() ) as $pair ) {
				if ( is_array( $pair ) && isset( $pair['name'] ) ) {
					$items[ $key ]['data'][] = array(
						'name'  => (string) $pair['name'],
						'value' => is_scalar( $pair['value'] ?? '' ) ? (string) ( $pair['value'] ?? '' ) : wp_json_encode( $pair['value'] ),
					);
				}
			}
		}
	}

	/**
	 * Deletes (not anonymises) every comment with that author email, with its meta.
	 *
	 * @param string $email   Email.
	 * @param bool   $dry_run Count only.
	 * @return array
	 */
	public static function remove_comments( $email, $dry_run ) {
		global $wpdb;
		$ids  = self::comment_ids( $email );
		$meta = 0;
		if ( $ids ) {
			$in   = implode( ',', $ids );
			$meta = (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$wpdb->commentmeta} WHERE comment_id IN ({$in})" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- integers only.
		}
		if ( $dry_run ) {
			return array(
				'dry_run'          => true,
				'comments_deleted' => 0,
				'meta_deleted'     => 0,
				'would_delete'     => array(
					'comments' => count( $ids ),
					'meta'     => $meta,
				),
			);
		}
		$deleted = Wpprivsync_Outbox::muted(
			static function () use ( $ids ) {
				$n = 0;
				// Children first keeps wp_delete_comment from re-parenting replies we delete anyway.
				foreach ( array_reverse( $ids ) as $id ) {
					if ( wp_delete_comment( $id, true ) ) {
						++$n;
					}
				}
				return $n;
			}
		);
		$answer  = array(
			'dry_run'          => false,
			'comments_deleted' => $deleted,
			'meta_deleted'     => $meta - self::remaining_meta( $ids ),
		);
		if ( ! $ids ) {
			// Nothing to delete: say why, when an earlier erasure anonymised them.
			$noted               = (array) get_option( 'wpprivsync_anonymised_comments', array() );
			$earlier             = $noted[ Wpprivsync_Plugin::email_hash( $email ) ] ?? null;
			$answer['found']     = false;
			$answer['not_found'] = $earlier
				? array(
					'anonymised' => (int) $earlier['count'],
					'on'         => (string) $earlier['at'],
					'reason'     => 'anonymised by an earlier erasure: they no longer carry the email and cannot be matched to the person',
				)
				: array(
					'anonymised' => 0,
					'reason'     => 'no comment with this email',
				);
		}
		return $answer;
	}

	/**
	 * Meta rows left for these comment ids.
	 *
	 * @param int[] $ids Comment ids.
	 * @return int
	 */
	private static function remaining_meta( array $ids ) {
		global $wpdb;
		if ( ! $ids ) {
			return 0;
		}
		$in = implode( ',', array_map( 'intval', $ids ) );
		return (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$wpdb->commentmeta} WHERE comment_id IN ({$in})" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}

	/**
	 * WordPress keeps every privacy request as a user_request post titled with the plain email.
	 * Completed requests older than $days days (the policy's evidence period) get the email's
	 * keyed hash as their title instead and lose their stored request data; the post stays, so
	 * the date, action and status remain as evidence, matchable only by someone who knows the
	 * email. Returns how many were scrubbed.
	 *
	 * @param int $days Evidence period in days.
	 * @return int
	 */
	public static function scrub_requests( $days ) {
		global $wpdb;
		$cutoff = time() - max( 0, (int) $days ) * DAY_IN_SECONDS;
		$rows   = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT p.ID, p.post_title FROM {$wpdb->posts} p JOIN {$wpdb->postmeta} m ON m.post_id = p.ID AND m.meta_key = '_wp_user_request_completed_timestamp'
				WHERE p.post_type = 'user_request' AND p.post_status = 'request-completed' AND p.post_title LIKE %s AND CAST(m.meta_value AS UNSIGNED) <= %d
				ORDER BY p.ID LIMIT 1000",
				'%@%',
				$cutoff
			)
		);
		$n      = 0;
		foreach ( (array) $rows as $row ) {
			$hash = Wpprivsync_Plugin::email_hash( Wpprivsync_Plugin::normalise_email( $row->post_title ) );
			$done = $wpdb->update(
				$wpdb->posts,
				array(
					'post_title'   => 'wpprivsync:' . $hash,
					'post_content' => '',
					'post_author'  => 0,
				),
				array( 'ID' => (int) $row->ID ),
				array( '%s', '%s', '%d' ),
				array( '%d' )
			);
			clean_post_cache( (int) $row->ID );
			$n += (int) $done;
		}
		return $n;
	}
}
